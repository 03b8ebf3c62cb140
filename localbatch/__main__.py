from localbatch.cli import main

main(prog_name="localbatch")
