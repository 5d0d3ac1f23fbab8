"""What tito prints shows a learner's text exactly as written."""

from tito import ui

LEARNER = "collate([toy[i] for i in [3, 8, 1]]) [i]nope[/i] [red]red[/red]"


def test_learner_text_with_brackets_is_printed_verbatim(capsys):
    ui.say(ui.mark(False), f" {LEARNER}")
    ui.note(LEARNER)
    ui.error(f"failed: {LEARNER}", f"fix {LEARNER}")
    short = "toy[i] [i]x[/i]"
    ui.table("checks", ["check", "first line"], [[short, ui.styled(short, "red")]])
    out, err = capsys.readouterr()
    assert f"✗ {LEARNER}" in out and out.count(short) == 2, out
    assert err.count(LEARNER) == 3, err
    rest = out.replace(LEARNER, "").replace(short, "") + err.replace(LEARNER, "")
    assert "[" not in rest  # no markup of tito's own leaks out either
