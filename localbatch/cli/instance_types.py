"""`localbatch instance-types`: the instance type table, and what each type gets here.

A job written for cloud VMs names types larger than a laptop; the engine scales those down
to the host and runs as many at once as the host's cores and memory hold
(engine/capacity.py). This shows the same sizing, from the same code, before anything runs.
"""

from __future__ import annotations

import click

from localbatch.cli.job_views import print_json
from localbatch.engine.capacity import CapacityLedger, HostCapacity, Resources, size_instance
from localbatch.instance_types import GIB, INSTANCE_TYPES

#: Where counting instances that fit at once stops (a tiny type on a big host).
AT_ONCE_LIMIT = 1000


def at_once(host: HostCapacity, need: Resources) -> int:
    """How many instances of this size the scheduler's ledger lets run side by side."""
    ledger = CapacityLedger(host)
    while ledger.running < AT_ONCE_LIMIT and ledger.fits(need):
        ledger.take(need)
    return ledger.running


def _number(value: float) -> float | int:
    return int(value) if float(value).is_integer() else round(value, 1)


def _size_json(resources: Resources) -> dict[str, float | int]:
    return {
        "CpuCores": _number(resources.cpu_cores),
        "MemoryGiB": _number(resources.memory_bytes / GIB),
    }


def _size_text(resources: Resources) -> str:
    return f"{resources.cpu_cores:g} cores, {resources.memory_bytes / GIB:.1f} GiB"


@click.command("instance-types", short_help="List instance types: cores, memory, size here.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def instance_types_command(as_json: bool) -> None:
    """List the instance types localbatch knows (name, cores, memory), what one instance of
    each gets on this host (the same, or scaled down to the host), and how many run at once.

    Any other InstanceType runs sized as ecs.sn1.medium (validate warns).
    """
    host = HostCapacity.detect()
    sizes = [size_instance(name, host) for name in INSTANCE_TYPES]
    if as_json:
        print_json(
            {
                "Host": _size_json(Resources(host.cpu_cores, host.memory_bytes)),
                "InstanceTypes": [
                    {
                        "Name": size.instance_type,
                        **_size_json(size.requested),
                        "Here": _size_json(size.granted),
                        "ScaledDown": size.granted != size.requested,
                        "AtOnce": at_once(host, size.granted),
                    }
                    for size in sizes
                ],
            }
        )
        return
    click.echo(f"this host: {_size_text(Resources(host.cpu_cores, host.memory_bytes))}")
    width = max(len(name) for name in INSTANCE_TYPES)
    click.echo(f"{'INSTANCE TYPE':<{width}}  {'CORES':>5}  {'MEMORY':>7}  {'AT ONCE':>7}  HERE")
    for size in sizes:
        kind = INSTANCE_TYPES[size.instance_type]
        here = "as is" if size.granted == size.requested else _size_text(size.granted)
        click.echo(
            f"{size.instance_type:<{width}}  {kind.cpu_cores:>5}  "
            f"{f'{kind.memory_gib} GiB':>7}  {at_once(host, size.granted):>7}  {here}"
        )


def register(group: click.Group) -> None:
    group.add_command(instance_types_command)
