"""Mastodon's domain blocklist CSV: parsing, the import plan with retractions, export, and the CLI round trip."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from node.moderation.blocklist import BlocklistError, Entry, export, parse, plan
from tests.cli_support import fednode

# The header and a line as Mastodon's admin export writes them (app/models/form/domain_block_batch.rb,
# Admin::ExportDomainBlocksController): #domain,#severity,#reject_media,#reject_reports,#public_comment,#obfuscate
MASTODON_EXPORT = """#domain,#severity,#reject_media,#reject_reports,#public_comment,#obfuscate
spam.example,suspend,true,true,Spam farm,false
loud.example,silence,false,false,,false
pics.example,noop,true,false,Only media,false
"""


def block(domain, severity, source="import:list.csv"):
    return SimpleNamespace(domain=domain, severity=severity, source=source, reject_media=False,
                           reject_reports=False, public_comment=None, obfuscate=False)


def test_mastodon_export_is_read():
    entries = parse(MASTODON_EXPORT)
    assert entries[0] == Entry("spam.example", "suspend", True, True, "Spam farm", False)
    assert [(e.domain, e.severity) for e in entries] == [
        ("spam.example", "suspend"), ("loud.example", "silence"), ("pics.example", "noop")]


def test_every_malformed_line_is_named_and_nothing_is_returned():
    text = MASTODON_EXPORT + "not a domain!,suspend,false,false,,false\nok.example,obliterate,false,false,,false\n"
    with pytest.raises(BlocklistError) as error:
        parse(text)
    assert "line 5" in error.value.reason and "line 6" in error.value.reason
    assert error.value.reason.startswith("nothing imported")


def test_a_newer_list_from_the_same_source_retracts_what_it_dropped():
    existing = [block("spam.example", "suspend"), block("gone.example", "suspend"),
                block("manual.example", "silence", source="cli")]
    result = plan(parse(MASTODON_EXPORT + "manual.example,suspend,false,false,,false\n"), existing, "import:list.csv")
    assert [e.domain for e in result.add] == ["loud.example"]
    assert result.retract == ["gone.example"]
    assert result.unchanged == ["spam.example"]
    assert result.kept_manual == ["manual.example"]
    assert result.skipped == ["pics.example"]


def test_export_writes_what_import_reads():
    blocks = [block("spam.example", "suspend")]
    assert [e.domain for e in parse(export(blocks))] == ["spam.example"]
    assert export(blocks).splitlines()[0] == "#domain,#severity,#reject_media,#reject_reports,#public_comment,#obfuscate"


def test_cli_imports_previews_exports_and_logs(tmp_path):
    """`fednode mod import` (preview, all or nothing), `mod export`, `mod blocks` and `mod log` on a real database."""
    env = {"FEDNODE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'node.db'}", "FEDNODE_KEYS_DIR": str(tmp_path / "keys")}
    (tmp_path / "list.csv").write_text(MASTODON_EXPORT)
    (tmp_path / "bad.csv").write_text(MASTODON_EXPORT + "bad domain,suspend\n")

    dry = fednode(tmp_path, "mod", "import", "list.csv", "--dry-run", env=env)
    assert dry.returncode == 0, dry.stderr
    assert "+ suspend  spam.example" in dry.stdout and "nothing changed" in dry.stdout
    bad = fednode(tmp_path, "mod", "import", "bad.csv", env=env)
    assert bad.returncode == 2 and "line 5" in bad.stderr
    assert "no domain is blocked" in fednode(tmp_path, "mod", "blocks", env=env).stdout

    done = fednode(tmp_path, "mod", "import", "list.csv", "--as", "mia", env=env)
    assert done.returncode == 0, done.stderr
    listed = fednode(tmp_path, "mod", "blocks", env=env).stdout
    assert "suspend  spam.example" in listed and "silence  loud.example" in listed
    exported = fednode(tmp_path, "mod", "export", env=env).stdout
    assert sorted(parse(exported), key=str) == sorted(parse(MASTODON_EXPORT)[:2], key=str)
    log = fednode(tmp_path, "mod", "log", env=env).stdout
    assert "mia" in log and "import" in log and "import:list.csv" in log


def test_check_config_names_a_pattern_that_does_not_compile(tmp_path):
    """A moderation pattern RE2 cannot compile is named by `fednode check-config` (exit 1)."""
    (tmp_path / "fednode.toml").write_text('moderation_patterns = ["casino", "(unclosed"]\n')
    result = fednode(tmp_path, "check-config")
    assert result.returncode == 1
    assert "moderation_patterns" in result.stderr and "(unclosed" in result.stderr
