"""What an attempt's resource use would mean in the cloud, said in one sentence each.

Three flags: memory above 80 % of the instance type's, killed for memory (OOM), held back
by the CPU quota (throttled). The type's memory is the cloud's (the local limit may be
smaller when the type was scaled down to this host; the sentence then says so).
"""

from __future__ import annotations

from dataclasses import dataclass

from localbatch.store.records import AttemptRecord

#: Share of the type's memory above which a peak is flagged.
MEMORY_WARNING = 0.8
HIGH_MEMORY, OOM, THROTTLED = "HighMemory", "OomKilled", "Throttled"


@dataclass(frozen=True)
class Flag:
    #: HIGH_MEMORY, OOM or THROTTLED.
    kind: str
    message: str


def mib(value: int | None) -> str:
    """Bytes as the report shows them: "5.0 MiB", "4.0 GiB"."""
    if value is None:
        return "-"
    if value >= 2**30:
        return f"{value / 2**30:,.1f} GiB"
    return f"{value / 2**20:,.1f} MiB"


def attempt_flags(attempt: AttemptRecord, type_memory: int | None) -> tuple[Flag, ...]:
    usage = attempt.usage
    if usage is None:
        return ()
    flags = []
    limit = usage.memory_limit_bytes
    if usage.oom_killed:
        here = f"its limit here ({mib(limit)})" if limit else "its memory limit"
        cloud = (
            f"; the type has {mib(type_memory)} in the cloud, more than here, so it may fit "
            "there, but it is close"
            if type_memory and limit and limit < type_memory
            else "; in the cloud the instance would be killed the same way (OutOfMemory) and "
            "retried or failed: it needs a larger instance type or less memory"
        )
        flags.append(Flag(OOM, f"Killed for going over {here}{cloud}."))
    peak = usage.peak_memory_bytes
    if not usage.oom_killed and peak is not None and type_memory:
        share = peak / type_memory
        if share > MEMORY_WARNING:
            flags.append(
                Flag(
                    HIGH_MEMORY,
                    f"Peak memory {mib(peak)} is {share:.0%} of the type's {mib(type_memory)}: "
                    "in the cloud a larger input or a busier node could push it over the limit "
                    "and the instance would be killed (OutOfMemory).",
                )
            )
    throttled = usage.throttled_seconds
    if throttled:
        cores = f"{usage.cpu_limit_cores:g} cores" if usage.cpu_limit_cores else "its cores"
        part = ""
        if attempt.start_time is not None and attempt.end_time is not None:
            ran = attempt.end_time - attempt.start_time
            if ran > 0:
                part = f" ({min(throttled / ran, 1):.0%} of its run)"
        flags.append(
            Flag(
                THROTTLED,
                f"Held back by its CPU limit for {throttled:.1f} s{part}: it wants more than "
                f"{cores}; in the cloud it would be as slow on this type, and faster on one "
                "with more cores.",
            )
        )
    return tuple(flags)
