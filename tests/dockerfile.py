"""Read the repository's Dockerfile the way a builder would, for the tests that check it
without a Docker engine (a lint and structure test, and running its entrypoint on the host).

Only the instructions Driftline's Dockerfile uses are understood: FROM, ARG, ENV, RUN, COPY,
USER, WORKDIR, EXPOSE, HEALTHCHECK, ENTRYPOINT and CMD.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = REPO_ROOT / "Dockerfile"


@dataclass(frozen=True)
class Instruction:
    keyword: str  # upper case
    args: str  # the rest of the line, continuations joined


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]

    def last(self, keyword: str) -> Instruction:
        found = self.all(keyword)
        assert found, f"stage {self.name or self.base!r} has no {keyword}"
        return found[-1]

    def env(self) -> dict[str, str]:
        """ENV of this stage, in order, with ``$VAR`` / ``${VAR}`` expanded from earlier
        ENV values (a variable this stage never set expands to its placeholder, e.g. the
        base image's PATH stays ``$PATH``)."""
        values: dict[str, str] = {}
        for inst in self.all("ENV"):
            for word in shlex.split(inst.args):
                key, sep, value = word.partition("=")
                assert sep, f"ENV without '=' is not supported: {inst.args!r}"
                values[key] = _expand(value, values)
        return values

    def exec_form(self, keyword: str) -> list[str]:
        """ENTRYPOINT or CMD in JSON (exec) form."""
        parsed = json.loads(self.last(keyword).args)
        assert isinstance(parsed, list) and all(isinstance(p, str) for p in parsed)
        return parsed

    def healthcheck(self) -> tuple[dict[str, str], list[str]]:
        """HEALTHCHECK's options (``--interval`` -> ``15s``) and its command in exec form."""
        options: dict[str, str] = {}
        rest = self.last("HEALTHCHECK").args
        while rest.startswith("--"):
            option, _, rest = rest.partition(" ")
            key, _, value = option[2:].partition("=")
            options[key] = value
            rest = rest.lstrip()
        keyword, _, command = rest.partition(" ")
        assert keyword == "CMD", f"HEALTHCHECK without CMD: {rest!r}"
        parsed = json.loads(command)
        assert isinstance(parsed, list)
        return options, [str(p) for p in parsed]


def _expand(value: str, env: dict[str, str]) -> str:
    def sub(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        return env.get(name, match.group(0))

    return re.sub(r"\$\{(\w+)\}|\$(\w+)", sub, value)


def instructions(text: str) -> list[Instruction]:
    """The file's instructions: comments and blank lines dropped, continuations joined."""
    out: list[Instruction] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):  # a comment inside a continued instruction
            continue
        if line.endswith("\\"):
            pending += line[:-1].rstrip() + " "
            continue
        full = pending + line
        pending = ""
        keyword, _, args = full.partition(" ")
        out.append(Instruction(keyword.upper(), args.strip()))
    assert not pending, "the file ends inside a continued instruction"
    return out


def stages(path: Path = DOCKERFILE) -> list[Stage]:
    """Build stages in order; ARGs declared before the first FROM are substituted in FROM."""
    global_args: dict[str, str] = {}
    result: list[Stage] = []
    for inst in instructions(path.read_text()):
        if inst.keyword == "ARG" and not result:
            arg, _, default = inst.args.partition("=")
            global_args[arg] = default
        elif inst.keyword == "FROM":
            words = _expand(inst.args, global_args).split()
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            result.append(Stage(base=words[0], name=name))
        else:
            assert result, f"{inst.keyword} before the first FROM"
            result[-1].instructions.append(inst)
    return result


def final_stage(path: Path = DOCKERFILE) -> Stage:
    return stages(path)[-1]
