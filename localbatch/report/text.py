"""The report for a terminal: each task in DAG order with a one-line bar of when it ran,
the slowest instances, and the flags of the attempts."""

from __future__ import annotations

from localbatch.report.layout import duration_label, job_moments, time_scale
from localbatch.report.model import JobReport

BAR_WIDTH = 40
SLOWEST = 5


def render_text(report: JobReport) -> str:
    scale = time_scale(job_moments(report), BAR_WIDTH)
    span = report.end_time - report.start_time if report.end_time and report.start_time else None
    lines = [
        f"job {report.job_id} ({report.name}): {report.state.value}, ran {duration_label(span)}, "
        f"{len(report.tasks)} tasks, {report.instances} instances",
        "",
    ]
    width = max((len(t.name) for t in report.tasks), default=4)
    for task in report.tasks:
        bar = [" "] * BAR_WIDTH
        if task.start_time is not None:
            end = task.end_time if task.end_time is not None else report.generated_time
            first = min(int(scale.x(task.start_time)), BAR_WIDTH - 1)
            last = max(first, min(int(scale.x(end)), BAR_WIDTH - 1))
            for i in range(first, last + 1):
                bar[i] = "#"
        counts = f"{sum(i.state.value == 'Finished' for i in task.instances)}/{len(task.instances)}"
        lines.append(
            f"{task.name:<{width}} |{''.join(bar)}| {task.state.value:<8} {counts:>7} "
            f"{duration_label(task.duration):>7}  {task.instance_type}"
        )
    ran = [
        (inst.duration, f"{task.name}.{inst.instance_id}", len(inst.attempts))
        for task in report.tasks
        for inst in task.instances
        if inst.duration is not None
    ]
    if ran:
        lines += ["", "slowest instances:"]
        for duration, name, attempts in sorted(ran, key=lambda r: -r[0])[:SLOWEST]:
            lines.append(
                f"  {name:<{width + 6}} {duration_label(duration):>7}  {attempts} attempt(s)"
            )
    flagged = [
        f"  {task.name}.{inst.instance_id} attempt {a.attempt}: {f.kind}: {f.message}"
        for task in report.tasks
        for inst in task.instances
        for a in inst.attempts
        for f in a.flags
    ]
    lines += ["", "flags:" if flagged else "flags: none", *flagged]
    failed = [
        f"  {task.name}.{inst.instance_id}: {inst.error_code or f'exit code {inst.exit_code}'}"
        + (f" (stderr: {inst.stderr_path})" if inst.stderr_path else "")
        for task in report.tasks
        for inst in task.instances
        if inst.state.value == "Failed"
    ]
    if failed:
        lines += ["", "failed instances:", *failed]
    return "\n".join(lines) + "\n"
