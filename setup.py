"""Packaging for nat1_traversal (tool settings live in pyproject.toml)."""

import re
from pathlib import Path

from setuptools import find_packages, setup

ROOT = Path(__file__).parent
VERSION = re.search(r'__version__ = "([^"]+)"', (ROOT / "nat1_traversal" / "__init__.py").read_text()).group(1)

setup(
    name="nat1_traversal",
    version=VERSION,
    description="Publish and hold a FULL CONE (NAT1) port mapping for a home server",
    long_description=(ROOT / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="MIT",
    python_requires=">=3.10",
    packages=find_packages(include=["nat1_traversal", "nat1_traversal.*"]),
    install_requires=[
        "requests>=2.28",
        "dnspython>=2.6",
        "mcstatus>=14.2,<15",
        "tencentcloud-sdk-python-dnspod>=3.0.1000",
        "prometheus-client>=0.17",
    ],
    extras_require={"alidns": ["alibabacloud_alidns20150109>=3"], "fast": ["uvloop>=0.17; sys_platform != 'win32'"]},
    entry_points={"console_scripts": ["nat1_traversal=nat1_traversal.cli:main"]},
    classifiers=[
        "Programming Language :: Python :: 3",
        "Environment :: Console",
        "Topic :: Internet :: Name Service (DNS)",
        "Topic :: System :: Networking",
    ],
)
