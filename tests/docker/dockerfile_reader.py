"""The Dockerfile read into stages and instructions, continuations joined and comments out,
as the checks of docker/ need it: flags, exec forms, shell commands, apt packages."""

from __future__ import annotations

import json
import re
import shlex

from docker_common import DOCKERFILE, read
from harness import expect


class Instruction:
    def __init__(self, keyword, text, line):
        self.keyword, self.text, self.line = keyword, text, line
        self.flags = {}           # --name=value before the arguments
        rest = text
        while True:
            match = re.match(r"--([a-z-]+)=(\S+)\s+", rest)
            if not match:
                break
            self.flags[match.group(1)] = match.group(2)
            rest = rest[match.end():]
        self.args = rest

    def json_form(self, text=None):
        """The exec form (a JSON array of strings) of the arguments."""
        try:
            value = json.loads(self.args if text is None else text)
        except ValueError:
            value = None
        expect(isinstance(value, list) and value and all(isinstance(v, str) for v in value),
               f"Dockerfile:{self.line}: {self.keyword} is not in exec form (a JSON array)")
        return value


class Stage:
    def __init__(self, instruction):
        words = instruction.args.split()
        self.image = words[0]
        self.name = words[2] if len(words) == 3 and words[1].lower() == "as" else None
        self.instructions = []

    def all(self, keyword):
        return [i for i in self.instructions if i.keyword == keyword]

    def one(self, keyword):
        found = self.all(keyword)
        expect(len(found) == 1, f"the stage FROM {self.image} has {len(found)} {keyword} lines, expected 1")
        return found[0]


def read_dockerfile():
    """The Dockerfile's stages with their instructions (continuations joined, comments out)."""
    stages, pending, start = [], "", 0
    for number, line in enumerate(read(DOCKERFILE).splitlines(), 1):
        if line.lstrip().startswith("#") or (not pending and not line.strip()):
            continue
        if not pending:
            start = number
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        text, pending = (pending + line).strip(), ""
        keyword, _, args = text.partition(" ")
        instruction = Instruction(keyword.upper(), args.strip(), start)
        if instruction.keyword == "FROM":
            stages.append(Stage(instruction))
        else:
            expect(stages, f"Dockerfile:{start}: {keyword} before FROM")
            stages[-1].instructions.append(instruction)
    expect(not pending, "Dockerfile: ends in a continuation")
    return stages


def shell_commands(instruction):
    """The commands of a RUN in shell form, split at `&&`, as word lists."""
    commands = [[]]
    for word in shlex.split(instruction.args):
        if word == "&&":
            commands.append([])
        else:
            commands[-1].append(word)
    return [c for c in commands if c]


def apt_packages(stage):
    packages = []
    for run_ in stage.all("RUN"):
        for words in shell_commands(run_):
            if words[:2] == ["apt-get", "install"]:
                packages += [w for w in words[2:] if not w.startswith("-")]
    return packages
