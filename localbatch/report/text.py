"""The report for a terminal: each task in DAG order with a one-line bar of when it ran,
the slowest instances with where their time went, the waits for capacity, and the flags of
the attempts."""

from __future__ import annotations

from localbatch.report.layout import before_it_ran, duration_label, job_moments, time_scale
from localbatch.report.model import JobReport
from localbatch.report.phases import Phase

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
    now = report.generated_time
    ran = [
        (inst.duration, f"{task.name}.{inst.instance_id}", inst.attempts)
        for task in report.tasks
        for inst in task.instances
        if inst.duration is not None
    ]
    if ran:
        lines += ["", "slowest instances:"]
        for duration, name, attempts in sorted(ran, key=lambda r: -r[0])[:SLOWEST]:
            before = before_it_ran(attempts[-1], now) if attempts else ""
            lines.append(
                f"  {name:<{width + 6}} {duration_label(duration):>7}  {len(attempts)} attempt(s)"
                + (f"  (before its last attempt ran: {before})" if before else "")
            )
    lines += _capacity_waits(report)
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


def _capacity_waits(report: JobReport) -> list[str]:
    """Per task: how many attempts waited for capacity, the longest wait, and why."""
    now = report.generated_time
    lines = []
    for task in report.tasks:
        waits = [
            span
            for inst in task.instances
            for attempt in inst.attempts
            for span in attempt.spans
            if span.phase == Phase.CAPACITY
        ]
        if waits:
            longest = max(waits, key=lambda span: span.seconds(now))
            lines.append(
                f"  {task.name}: {len(waits)} attempt(s), at most "
                f"{duration_label(longest.seconds(now))}: {longest.reason or 'reason not recorded'}"
            )
    return ["", "waited for capacity:", *lines] if lines else []
