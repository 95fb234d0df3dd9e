"""``[spark]``: the section that sets the warehouse to a ``spark://`` URL."""

from __future__ import annotations

from pathlib import Path

from mlcost.errors import ConfigError

_SPARK_KEYS = frozenset({"master", "warehouse_dir", "database", "format", "conf"})


def spark_url(table: object, path: Path) -> str:
    """The ``spark://`` warehouse URL that a ``[spark]`` section of ``path`` describes.

    ``master`` is ``local[N]`` or ``spark://HOST:PORT``; ``warehouse_dir`` is relative to the
    file's folder; ``database`` and ``format`` (parquet, delta, iceberg) are optional;
    ``conf`` is a table of ``spark.*`` session settings.

    >>> spark_url({"master": "local[2]", "warehouse_dir": "/srv/wh"}, Path("mlcost.toml"))
    'spark://local[2]?warehouse_dir=%2Fsrv%2Fwh'
    """
    from urllib.parse import urlencode

    if not isinstance(table, dict) or not isinstance(table.get("master"), str):
        raise ConfigError(f'{path}: [spark] needs master = "local[2]" (or "spark://HOST:PORT").')
    unknown = sorted(set(table) - _SPARK_KEYS)
    if unknown:
        raise ConfigError(
            f"{path}: unknown [spark] setting(s) {', '.join(unknown)}. "
            f"Known: {', '.join(sorted(_SPARK_KEYS))}."
        )
    params: dict[str, str] = {}
    if "warehouse_dir" in table:
        params["warehouse_dir"] = str((path.parent / str(table["warehouse_dir"])).resolve())
    for key in ("database", "format"):
        if key in table:
            params[key] = str(table[key])
    conf = table.get("conf", {})
    if not isinstance(conf, dict) or not all(str(k).startswith("spark.") for k in conf):
        raise ConfigError(f"{path}: [spark] conf must be a table of spark.* settings.")
    params.update({str(k): str(v) for k, v in conf.items()})
    master = table["master"].removeprefix("spark://")
    return f"spark://{master}" + (f"?{urlencode(params)}" if params else "")
