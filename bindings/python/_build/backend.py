"""In-tree PEP 517 build backend of the bitnet Python package, standard library only.

The package is pure Python (ctypes), so building it is zipping files: doing that here instead of
through setuptools means `pip install ./bindings/python` needs nothing that a fresh virtual
environment lacks (setuptools < 70.1 cannot build wheels without the separate `wheel`
package), with or without network access and with or without build isolation.
Wheel format: PEP 427 / the binary distribution format spec; metadata: core metadata 2.1.
"""
import base64
import hashlib
import os
import re
import zipfile

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_TAG = "py3-none-any"


def _project():
    """Name, version and summary from pyproject.toml's [project] table (no tomllib before 3.11)."""
    with open(os.path.join(_ROOT, "pyproject.toml"), encoding="utf-8") as f:
        text = f.read()
    table = text.split("[project]", 1)[1].split("\n[", 1)[0]

    def field(key):
        m = re.search(r'^%s\s*=\s*"([^"]*)"' % key, table, re.M)
        return m.group(1) if m else ""

    return field("name"), field("version"), field("description"), field("requires-python")


def _package_files():
    pkg = os.path.join(_ROOT, "bitnet")
    for name in sorted(os.listdir(pkg)):
        if name.endswith(".py") or name == "py.typed" or name.startswith("libbitnet.so"):
            yield "bitnet/" + name, os.path.join(pkg, name)


def _record_line(arcname, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return "%s,sha256=%s,%d" % (arcname, digest, len(data))


def get_requires_for_build_wheel(config_settings=None):
    return []


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    name, version, summary, requires_python = _project()
    dist_info = "%s-%s.dist-info" % (name, version)
    wheel_name = "%s-%s-%s.whl" % (name, version, _TAG)
    metadata = ("Metadata-Version: 2.1\nName: %s\nVersion: %s\nSummary: %s\nRequires-Python: %s\n"
                % (name, version, summary, requires_python))
    wheel = "Wheel-Version: 1.0\nGenerator: bitnet _build.backend\nRoot-Is-Purelib: true\nTag: %s\n" % _TAG
    entries = [(arc, open(path, "rb").read()) for arc, path in _package_files()]
    entries += [(dist_info + "/METADATA", metadata.encode()), (dist_info + "/WHEEL", wheel.encode())]
    record = [_record_line(arc, data) for arc, data in entries] + [dist_info + "/RECORD,,"]
    with zipfile.ZipFile(os.path.join(wheel_directory, wheel_name), "w", zipfile.ZIP_DEFLATED) as z:
        for arc, data in entries:
            z.writestr(arc, data)
        z.writestr(dist_info + "/RECORD", "\n".join(record) + "\n")
    return wheel_name
