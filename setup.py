"""The build's one addition to pyproject.toml: the installed package carries this project's pytest settings.

care2-predemo, installed with pip or pipx, runs from any folder: it gives pytest the copy (``-c``) that
build_py puts beside the package's code, the one source of the settings staying pyproject.toml.
"""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildWithSettings(build_py):
    def run(self) -> None:
        super().run()
        if not self.editable_mode:  # an editable install runs from the checkout, beside pyproject.toml itself
            self.copy_file("pyproject.toml", str(Path(self.build_lib, "smoke", "pyproject.toml")))


setup(cmdclass={"build_py": BuildWithSettings})
