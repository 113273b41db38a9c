"""Render the FreeSWITCH conf tree from the render model (Jinja, sandboxed, XML-autoescaped).

The tree mirrors FreeSWITCH's conf directory, so it can be copied over it:

    autoload_configs/  event_socket, python3 (python.conf), json_cdr, modules, acl
    sip_profiles/      fscc_trunks.xml (the carriers' profile with one gateway per trunk)
    directory/         default/fscc_<agent>.xml (default domain), fscc_<tenant>.xml (own domain)
    dialplan/          fscc.xml (contexts: inbound DIDs, agents, outbound)
    systemd/           fscc-serve.service, freeswitch.service.d/fscc-python.conf

Every XML file is parsed before anything is written, so a template bug never reaches a
switch. Files holding secrets are written with mode 0600; files are replaced atomically.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

import conf.freeswitch
import dialplan
from fs_scripts.confgen import model as mdl
from fs_scripts.confgen.model import RenderModel, build_model
from fs_scripts.errors import FsccError
from fs_scripts.settings import Settings

logger = logging.getLogger(__name__)

CONF_TEMPLATES = Path(conf.freeswitch.__file__).parent
DIALPLAN_TEMPLATES = Path(dialplan.__file__).parent
SERVE_UNIT = CONF_TEMPLATES / "fscc-serve.service"

CAUSES = {
    "barred": mdl.CAUSE_BARRED,
    "invalid_number": mdl.CAUSE_INVALID_NUMBER,
    "unknown_did": mdl.CAUSE_UNKNOWN_DID,
    "trunk_full": mdl.CAUSE_TRUNK_FULL,
}


class RenderError(FsccError):
    """A rendered file is not what FreeSWITCH can load (a bug in a template), or cannot be written."""

    code = "render-failed"
    exit_code = 1


@dataclass(frozen=True)
class RenderedFile:
    path: str  # relative, with '/'
    text: str
    secret: bool  # holds a password: mode 0600


def comment_text(value: object) -> str:
    """Text that cannot end an XML comment early: `--` is not allowed inside `<!-- -->`."""
    text = re.sub(r"[\x00-\x1f\x7f]", " ", str(value))
    while "--" in text:
        text = text.replace("--", "- -")
    return text


@functools.lru_cache(maxsize=1)
def environment() -> ImmutableSandboxedEnvironment:
    """The Jinja environment of the conf templates: sandboxed, autoescaping, strict about undefined names.

    One per process: it caches the compiled templates, and nothing in it changes after creation."""
    env = ImmutableSandboxedEnvironment(
        loader=jinja2.FileSystemLoader([str(CONF_TEMPLATES), str(DIALPLAN_TEMPLATES)]),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["comment"] = comment_text
    return env


def render_tree(m: RenderModel) -> list[RenderedFile]:
    """Every file of the tree, in memory; XML files are checked to parse."""
    env = environment()
    codecs = ",".join(dict.fromkeys(c for t in m.trunks for c in t.codecs.split(","))) or "PCMA,PCMU"
    base = {"m": m, "causes": CAUSES, "codecs": codecs}

    def one(template: str, path: str, secret: bool = False, **extra: object) -> RenderedFile:
        try:
            text = env.get_template(template).render(**base, **extra)
        except jinja2.TemplateError as exc:
            raise RenderError(f"template {template}: {exc}") from exc
        return RenderedFile(path, text, secret)

    files = [
        one("event_socket.conf.xml.j2", "autoload_configs/event_socket.conf.xml", secret=True),
        one("python3.conf.xml.j2", "autoload_configs/python3.conf.xml"),
        one("json_cdr.conf.xml.j2", "autoload_configs/json_cdr.conf.xml"),
        one("modules.conf.xml.j2", "autoload_configs/modules.conf.xml"),
        one("acl.conf.xml.j2", "autoload_configs/acl.conf.xml"),
        one("fscc_trunks.xml.j2", "sip_profiles/fscc_trunks.xml", secret=True),
        one("fscc.xml.j2", "dialplan/fscc.xml"),
    ]
    files += [one("directory_user.xml.j2", f"directory/default/fscc_{a.id}.xml", secret=True, agent=a)
              for a in m.default_domain_agents]
    files += [one("directory_domain.xml.j2", f"directory/fscc_{d.tenant}.xml", secret=True, d=d)
              for d in m.directory_domains]
    files.append(one("freeswitch-python.conf.j2", "systemd/freeswitch.service.d/fscc-python.conf"))
    files.append(RenderedFile("systemd/fscc-serve.service", SERVE_UNIT.read_text(encoding="utf-8"), False))
    for f in files:
        if f.path.endswith(".xml"):
            try:
                ET.fromstring(f.text)
            except ET.ParseError as exc:
                line, column = exc.position
                raise RenderError(f"{f.path}:{line}:{column}: rendered XML does not parse ({exc}); this is a template bug") from exc
    return files


def render(
    settings: Settings,
    out_dir: Path | None,
    environ: Mapping[str, str] | None = None,
    *,
    allow_default_password: bool = False,
    source_name: str = "fscc.yaml",
) -> tuple[RenderModel, list[RenderedFile]]:
    """Build, render and (when `out_dir` is given) write the tree. Returns the model and the files."""
    m = build_model(settings, environ, allow_default_password=allow_default_password, source_name=source_name)
    files = render_tree(m)
    if out_dir is not None:
        write_tree(files, out_dir)
    return m, files


def write_tree(files: list[RenderedFile], out_dir: Path) -> None:
    """Write each file atomically (temp file + rename); secrets get mode 0600, the rest 0644."""
    for f in files:
        target = out_dir / f.path
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    handle.write(f.text)
                os.chmod(tmp, 0o600 if f.secret else 0o644)
                os.replace(tmp, target)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as exc:
            raise RenderError(f"cannot write {target}: {exc.strerror or exc}") from exc
        logger.info("wrote %s", target)
