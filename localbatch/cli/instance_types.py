"""`localbatch instance-types`: the instance type table, and what each type gets here.

A job written for cloud VMs names types larger than a laptop; the engine scales those down
to the host and runs as many at once as the host's cores and memory hold
(engine/capacity.py). This shows the same sizing, from the same code, before anything runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from localbatch.cli.job_views import print_json
from localbatch.spec.instance_types import GIB, INSTANCE_TYPES

if TYPE_CHECKING:
    from localbatch.engine.capacity import Resources


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
    from localbatch.application.instance_types import sizes_here

    sizes = sizes_here()
    if as_json:
        print_json(
            {
                "Host": _size_json(sizes.host),
                "InstanceTypes": [
                    {
                        "Name": row.name,
                        **_size_json(row.requested),
                        "Here": _size_json(row.granted),
                        "ScaledDown": row.scaled_down,
                        "AtOnce": row.at_once,
                    }
                    for row in sizes.types
                ],
            }
        )
        return
    click.echo(f"this host: {_size_text(sizes.host)}")
    width = max(len(row.name) for row in sizes.types)
    click.echo(f"{'INSTANCE TYPE':<{width}}  {'CORES':>5}  {'MEMORY':>7}  {'AT ONCE':>7}  HERE")
    for row in sizes.types:
        kind = INSTANCE_TYPES[row.name]
        here = "as is" if not row.scaled_down else _size_text(row.granted)
        click.echo(
            f"{row.name:<{width}}  {kind.cpu_cores:>5}  "
            f"{f'{kind.memory_gib} GiB':>7}  {row.at_once:>7}  {here}"
        )


def register(group: click.Group) -> None:
    group.add_command(instance_types_command)
