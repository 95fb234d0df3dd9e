"""Bill URLs in ``[watch.sources.*]`` and on the command line: parsed once, checked at load."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlcost.config import load_settings
from mlcost.errors import ConfigError
from mlcost.sources.remote import parse_url


def settings(tmp_path: Path, body: str) -> object:
    (tmp_path / "mlcost.toml").write_text(body)
    return load_settings(env={"HOME": str(tmp_path / "home")}, cwd=tmp_path)


def test_a_url_is_kept_as_written_and_a_file_path_stays_beside_the_config(
    tmp_path: Path,
) -> None:
    s = settings(
        tmp_path,
        '[watch.sources.aws]\nkind = "focus"\npaths = ["s3://billing/exports/", "local"]\n'
        'stale_after = "36h"\n',
    )
    source = s.watch.sources[0]  # type: ignore[attr-defined]
    assert source.paths == ("s3://billing/exports/", str(tmp_path / "local"))
    assert source.stale_after == "36h" and source.channels == ()


@pytest.mark.parametrize(
    ("line", "message"),
    [
        # a scheme mlcost cannot fetch
        ('paths = ["gs://bucket/x/"]', "gs:// URL; mlcost reads s3://BUCKET/PREFIX/"),
        # an age without a unit
        ('paths = ["s3://b/x/"]\nstale_after = "36"', "stale_after is '36'; write e.g. \"36h\""),
        # a SAS token in the file (refused without being echoed)
        ('paths = ["az://c/x?sig=s3cr3t"]', "a URL with a query string; credentials come"),
        # an alert channel nobody defined
        ('paths = ["s3://b/x/"]\nchannels = ["ops"]', "watch.sources.aws.channels names channel"),
    ],
)
def test_bad_url_source_settings_are_refused_at_load(
    tmp_path: Path, line: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=None) as err:
        settings(tmp_path, f'[watch.sources.aws]\nkind = "focus"\n{line}\n')
    assert message in str(err.value) and "s3cr3t" not in str(err.value)


def test_urls_parse_once() -> None:
    # S3: bucket and prefix; Azure: container, optional account; ADLS Gen2 names its account.
    assert parse_url("s3://billing/exports/").label == "s3://billing/exports/"
    assert parse_url("az://costs/focus").account is None
    assert parse_url("az://costs@acme/focus").label == "az://costs@acme/focus"
    gen2 = parse_url("abfss://costs@acme.dfs.core.windows.net/focus/")
    assert (gen2.provider, gen2.bucket, gen2.account, gen2.prefix) == (
        "azure",
        "costs",
        "acme",
        "focus/",
    )
    with pytest.raises(ConfigError, match="takes no query string") as err:
        parse_url("az://costs/focus?sig=s3cr3tSAS")  # a SAS token belongs in no config file
    assert "s3cr3tSAS" not in str(err.value)


def test_watch_needs_a_bill_kind_for_a_url(tmp_path: Path, wh: object) -> None:
    from mlcost.watching import run_round

    s = settings(tmp_path, '[watch.sources.aws]\npaths = ["s3://billing/exports/"]\n')
    with pytest.raises(ConfigError, match="reads a bill URL: set kind to one of focus"):
        run_round(wh, s)  # type: ignore[arg-type]
