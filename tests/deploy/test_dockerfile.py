"""The Dockerfile: parses, its stages hang together, the images run as a non-root user."""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
from dataclasses import dataclass, field

import pytest

from tests.deploy.tools import DOCKERFILE, K8S, REPO, load_yaml_all, module_exists, run, tool

pytestmark = pytest.mark.unit

KNOWN = {
    "FROM",
    "RUN",
    "CMD",
    "LABEL",
    "MAINTAINER",
    "EXPOSE",
    "ENV",
    "ADD",
    "COPY",
    "ENTRYPOINT",
    "VOLUME",
    "USER",
    "WORKDIR",
    "ARG",
    "ONBUILD",
    "STOPSIGNAL",
    "HEALTHCHECK",
    "SHELL",
}
#: The images that compose.yaml and deploy/k8s build and run.
TARGETS = ("runtime", "embedder-cuda")
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"


@dataclass
class Instruction:
    keyword: str
    arguments: str
    line: int


@dataclass
class Stage:
    name: str
    base: str
    instructions: list[Instruction] = field(default_factory=list)

    def last(self, keyword: str) -> Instruction | None:
        found = [i for i in self.instructions if i.keyword == keyword]
        return found[-1] if found else None


def parse(text: str) -> list[Instruction]:
    """Docker's line rules: `\\` continues a line, comment lines vanish even inside one."""
    instructions: list[Instruction] = []
    pending, start = "", 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if not pending:
            start = number
        if line.endswith("\\"):
            pending += line[:-1].rstrip() + " "
            continue
        logical = pending + line
        pending = ""
        keyword, _, arguments = logical.partition(" ")
        instructions.append(Instruction(keyword.upper(), arguments.strip(), start))
    assert not pending, "the file ends inside a continued line"
    return instructions


def global_args(instructions: list[Instruction]) -> dict[str, str]:
    """ARGs before the first FROM, with their defaults (usable in FROM lines)."""
    args: dict[str, str] = {}
    for instruction in instructions:
        if instruction.keyword == "FROM":
            break
        if instruction.keyword == "ARG":
            name, _, default = instruction.arguments.partition("=")
            args[name] = default
    return args


def stages(instructions: list[Instruction]) -> dict[str, Stage]:
    variables = global_args(instructions)
    result: dict[str, Stage] = {}
    current: Stage | None = None
    for instruction in instructions:
        if instruction.keyword == "FROM":
            words = [w for w in instruction.arguments.split() if not w.startswith("--")]
            assert len(words) == 3 and words[1].upper() == "AS", f"unnamed stage: {instruction}"
            base = re.sub(r"\$\{?(\w+)\}?", lambda m: variables[m.group(1)], words[0])
            assert words[2] not in result, f"stage {words[2]} defined twice"
            current = result[words[2]] = Stage(words[2], base)
        elif current is not None:
            current.instructions.append(instruction)
    return result


def chain(all_stages: dict[str, Stage], name: str) -> list[Stage]:
    """The stage and the stages it is built FROM, nearest first."""
    found = [all_stages[name]]
    while found[-1].base in all_stages:
        found.append(all_stages[found[-1].base])
    return found


def effective(all_stages: dict[str, Stage], name: str, keyword: str) -> Instruction | None:
    for stage in chain(all_stages, name):
        instruction = stage.last(keyword)
        if instruction is not None:
            return instruction
    return None


def exec_form(instruction: Instruction | None) -> list[str]:
    assert instruction is not None
    value = json.loads(instruction.arguments)
    assert isinstance(value, list), f"{instruction.keyword} must use the JSON (exec) form"
    return [str(v) for v in value]


@pytest.fixture(scope="module")
def instructions() -> list[Instruction]:
    return parse(DOCKERFILE.read_text())


@pytest.fixture(scope="module")
def all_stages(instructions: list[Instruction]) -> dict[str, Stage]:
    return stages(instructions)


def test_every_instruction_is_known(instructions: list[Instruction]) -> None:
    unknown = [i for i in instructions if i.keyword not in KNOWN]
    assert not unknown
    assert instructions[0].keyword in ("ARG", "FROM")


def test_stages_are_named_and_refer_to_earlier_stages(all_stages: dict[str, Stage]) -> None:
    seen: list[str] = []
    used: set[str] = set()
    for name, stage in all_stages.items():
        if stage.base in all_stages:
            assert stage.base in seen, f"{name} is built FROM a later stage"
            used.add(stage.base)
        else:
            assert ":" in stage.base, f"{name}: external image {stage.base} has no tag"
        for instruction in stage.instructions:
            for source in re.findall(r"--from=(\S+)", instruction.arguments):
                assert source in seen, f"{name}: COPY --from={source} is no earlier stage"
                used.add(source)
        seen.append(name)
    assert set(TARGETS) <= set(all_stages)
    # Every stage is built into some image; `docker build .` gives the CPU runtime.
    assert set(all_stages) - used == set(TARGETS)
    assert seen[-1] == "runtime"


def test_images_run_as_a_numeric_non_root_user(all_stages: dict[str, Stage]) -> None:
    users = set()
    for target in TARGETS:
        user = effective(all_stages, target, "USER")
        assert user is not None, f"{target} runs as root"
        uid = user.arguments.split(":")[0]
        # Kubernetes' runAsNonRoot can only verify a numeric user.
        assert uid.isdigit() and int(uid) > 0, f"{target}: USER {user.arguments}"
        users.add(int(uid))
    (uid,) = users
    for path in (K8S / "base").glob("*.yaml"):
        for document in load_yaml_all(path.read_text()):
            if document["kind"] == "Deployment":
                pod = document["spec"]["template"]["spec"]["securityContext"]
                assert pod["runAsUser"] == uid, path


def test_images_start_a_service_module(all_stages: dict[str, Stage]) -> None:
    for target in TARGETS:
        assert exec_form(effective(all_stages, target, "ENTRYPOINT")) == ["python", "-m"]
        (module,) = exec_form(effective(all_stages, target, "CMD"))
        assert module_exists(module), f"{target}: CMD {module}"
        healthcheck = effective(all_stages, target, "HEALTHCHECK")
        assert healthcheck is not None and "/health" in healthcheck.arguments
        assert "CMD [" in healthcheck.arguments, "HEALTHCHECK needs the exec form"
    assert exec_form(all_stages["embedder-cuda"].last("CMD")) == ["embedder_service"]


def test_runtime_images_are_python_311_slim(all_stages: dict[str, Stage]) -> None:
    for target in TARGETS:
        root = chain(all_stages, target)[-1]
        assert re.fullmatch(r"python:3\.11-slim(-\w+)?", root.base), f"{target}: {root.base}"


def test_torch_is_the_pinned_version_cpu_build_by_default(
    instructions: list[Instruction], all_stages: dict[str, Stage]
) -> None:
    pins = dict(
        line.split("==", 1)
        for line in (REPO / "constraints.txt").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    )
    args = global_args(instructions)
    assert args["TORCH_VERSION"] == pins["torch"]
    assert args["TORCH_CPU_INDEX_URL"] == TORCH_CPU_INDEX
    cpu = " ".join(i.arguments for i in all_stages["torch-cpu"].instructions)
    assert '--index-url "$TORCH_CPU_INDEX_URL"' in cpu
    cuda = " ".join(i.arguments for i in all_stages["torch-cuda"].instructions)
    assert "--index-url" not in cuda, "the CUDA build is the default PyPI wheel"
    for target, builder in (("runtime", "builder"), ("embedder-cuda", "builder-cuda")):
        copies = [i.arguments.split() for i in all_stages[target].instructions]
        assert [f"--from={builder}", "/opt/venv", "/opt/venv"] in copies, target


def test_builders_install_every_package_of_the_monorepo(all_stages: dict[str, Stage]) -> None:
    makefile = (REPO / "Makefile").read_text().replace("\\\n", " ")
    match = re.search(r"^PKGS\s*:=(.*)$", makefile, re.MULTILINE)
    assert match
    packages = [*match.group(1).split(), "."]
    manifests = " ".join(i.arguments for i in all_stages["manifests"].instructions)
    for package in packages:
        if package != ".":
            assert f"{package}/pyproject.toml" in manifests, package
    for builder in ("builder", "builder-cuda"):
        runs = [i.arguments for i in all_stages[builder].instructions if i.keyword == "RUN"]
        installs = [shlex.split(r) for r in runs if "pip install" in r]
        assert len(installs) == 2, builder  # dependencies, then the packages themselves
        for words in installs:
            for package in packages:
                path = "/src" if package == "." else f"/src/{package}"
                assert path in words, (builder, package)
        assert "-c" in installs[0] and "/src/constraints.txt" in installs[0]
        assert "--no-deps" in installs[1]


def test_copied_sources_exist_and_are_not_dockerignored(instructions: list[Instruction]) -> None:
    ignored = [
        line.strip().rstrip("/")
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert ".venv" in ignored and ".git" in ignored
    for instruction in instructions:
        if instruction.keyword != "COPY" or "--from=" in instruction.arguments:
            continue
        *sources, _destination = shlex.split(instruction.arguments)
        for source in sources:
            assert (REPO / source).exists(), source
            clean = source.rstrip("/")
            hits = [p for p in ignored if fnmatch.fnmatch(clean, p) or clean.startswith(p + "/")]
            assert not hits, f"COPY {source} but .dockerignore has {hits}"


def test_hadolint_finds_nothing() -> None:
    result = run([tool("hadolint"), "--no-color", "--format", "json", str(DOCKERFILE)])
    findings = json.loads(result.stdout or "[]")
    assert findings == [], "\n".join(
        f"line {f['line']} {f['code']}: {f['message']}" for f in findings
    )
    assert result.returncode == 0, result.stderr


def test_parser_joins_continued_lines_and_drops_comments() -> None:
    text = "ARG A=1\nFROM python:3.11-slim AS x\nRUN a \\\n# note\n    b\nUSER 1:1\n"
    parsed = parse(text)
    assert [(i.keyword, i.arguments, i.line) for i in parsed] == [
        ("ARG", "A=1", 1),
        ("FROM", "python:3.11-slim AS x", 2),
        ("RUN", "a b", 3),
        ("USER", "1:1", 6),
    ]
