"""`make run` and `make test` install the Debian packages they need when they may, else say how."""

import shutil

import pytest

from tests import system_packages

pytestmark = pytest.mark.skipif(not shutil.which("dpkg-query"), reason="not a Debian system")

NOT_A_PACKAGE = "medfit-no-such-package"


def refuse_to_install(*args):
    raise AssertionError("apt-get must not run")


def test_an_installed_package_counts_as_installed_and_an_unknown_one_does_not():
    assert system_packages.is_installed("dpkg")
    assert not system_packages.is_installed(NOT_A_PACKAGE)


def test_nothing_is_installed_when_nothing_is_missing(monkeypatch, capsys):
    monkeypatch.setattr(system_packages, "install_commands", refuse_to_install)
    assert system_packages.main(["dpkg"]) == 0
    assert capsys.readouterr() == ("", "")


def test_missing_packages_are_installed_when_we_may(monkeypatch, capsys):
    monkeypatch.setattr(system_packages, "sudo_prefix", lambda: [])
    ran = []
    monkeypatch.setattr(system_packages, "install_commands", lambda packages, prefix: ran.append(packages) or [])
    assert system_packages.main(["dpkg", NOT_A_PACKAGE]) == 0
    assert ran == [[NOT_A_PACKAGE]]
    assert f"Installing the missing system packages: {NOT_A_PACKAGE}" in capsys.readouterr().out


def test_the_apt_get_line_is_printed_when_we_may_not_install(monkeypatch, capsys):
    monkeypatch.setattr(system_packages, "sudo_prefix", lambda: None)
    monkeypatch.setattr(system_packages, "install_commands", refuse_to_install)
    assert system_packages.main(["dpkg", NOT_A_PACKAGE]) == 1
    assert f"sudo apt-get install -y {NOT_A_PACKAGE}\n" in capsys.readouterr().err


def test_the_apt_get_line_is_printed_when_installing_fails(monkeypatch, capsys):
    monkeypatch.setattr(system_packages, "sudo_prefix", lambda: [])
    monkeypatch.setattr(system_packages, "install_commands", lambda packages, prefix: [["false"]])
    assert system_packages.main([NOT_A_PACKAGE]) == 1
    assert f"sudo apt-get install -y {NOT_A_PACKAGE}\n" in capsys.readouterr().err


def test_installing_updates_the_package_lists_then_installs_without_questions():
    assert system_packages.install_commands(["poppler-utils"], ["sudo", "-n"]) == [
        ["sudo", "-n", "apt-get", "update"],
        ["sudo", "-n", "env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "-y", "poppler-utils"],
    ]
