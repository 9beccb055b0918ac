"""Every file the README tells an instructor to write is private to them (0600): the roster, the access codes
(`cohort add-learners --out`) and the grades (`instructor export --out`, tested in test_cheating.py)."""
import re
import subprocess
import sys

from conftest import ROOT


def test_access_codes_are_written_to_a_file_only_their_owner_can_read(tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_text("learner_id,display_name,role\nana,Ana Lima,learner\n", encoding="utf-8")
    out = tmp_path / "codes.csv"
    subprocess.run([sys.executable, "-m", "course", "cohort", "add-learners", str(roster), "--instance",
                    str(tmp_path / "instance"), "--out", str(out)], cwd=ROOT, check=True, capture_output=True)
    assert oct(out.stat().st_mode & 0o777) == "0o600"
    assert out.read_text(encoding="utf-8").splitlines()[1].startswith("ana,Ana Lima,")


def test_every_file_the_readme_writes_with_the_shell_is_written_under_umask_077():
    blocks = re.findall(r"```bash\n(.*?)```", (ROOT / "README.md").read_text(encoding="utf-8"), re.S)
    for block in blocks:
        lines = [line.split("#")[0] for line in block.splitlines()]
        for i, line in enumerate(lines):
            if re.search(r"(?<![0-9&])>\s*[\w./~$-]+", line) and "/dev/null" not in line:
                assert any(x.strip() == "umask 077" for x in lines[:i]), f"written without umask 077: {line}"
