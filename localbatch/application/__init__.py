"""The application layer, between the surfaces (cli, server) and the engine: the local
stack opened once (`stack`), the job use cases (`job_service`), recovery after a crash
(`recovery`), running a job to its end here (`foreground`), the runtime a surface chose
(`runtime_choice`), the dry run (`preview`) and what each instance type gets here
(`instance_types`)."""
