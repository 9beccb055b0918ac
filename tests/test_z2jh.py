"""deploy/z2jh/values.yaml against the Zero to JupyterHub chart's own values schema, as helm checks it: the chart's
default values with ours merged over them (both files of chart 4.4.0 kept in deploy/z2jh/chart/, see
deploy/z2jh/README.md); and in step with the hub set-up the suite runs (course.web.hub)."""
import json
from pathlib import Path

import jsonschema
import pytest
import yaml
from conftest import ROOT

from course import contract
from course.web import hub

Z2JH = ROOT / "deploy" / "z2jh"


def values() -> dict:
    return yaml.safe_load((Z2JH / "values.yaml").read_text(encoding="utf-8"))


def schema() -> dict:
    return json.loads((Z2JH / "chart" / "values.schema.json").read_text(encoding="utf-8"))


def merged(ours: dict, defaults: dict | None = None) -> dict:
    """Helm's merge of user values over a chart's defaults: maps merge, anything else replaces, null removes."""
    if defaults is None:
        defaults = yaml.safe_load((Z2JH / "chart" / "values.yaml").read_text(encoding="utf-8"))
    out = dict(defaults)
    for key, value in ours.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merged(value, out[key])
        else:
            out[key] = value
    return out


def test_the_values_pass_the_charts_schema():
    jsonschema.validate(merged(values()), schema())


@pytest.mark.parametrize("change", ["unknown key", "wrong type"])
def test_the_schema_refuses_what_the_chart_would(change):
    broken = values()
    if change == "unknown key":
        broken["singleuser"]["defaultUrls"] = broken["singleuser"].pop("defaultUrl")
    else:
        broken["cull"]["timeout"] = "an hour"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(merged(broken), schema())


def test_the_learners_servers_get_what_the_hub_config_gives_them():
    single = values()["singleuser"]
    assert single["defaultUrl"] == hub.COURSE_URL
    local = hub.learner_environment("{username}", "/cohort", "/srv/nbgrader/exchange")
    assert set(single["extraEnv"]) == set(local)
    assert single["extraEnv"][contract.LEARNER_ENV] == "{username}"
    assert single["extraEnv"][contract.EXCHANGE_ENV] == local[contract.EXCHANGE_ENV]
    mounts = {m["mountPath"] for m in single["storage"]["extraVolumeMounts"]}
    assert single["extraEnv"][contract.EXCHANGE_ENV] in mounts
    # Returned feedback is read in the instance folder (course.contract.returned_feedback): one learner's only.
    instance = Path(single["extraEnv"][contract.INSTANCE_ENV])
    assert str(instance / "feedback" / "{username}") in mounts
    assert values()["cull"]["enabled"] is True


def test_the_memory_guarantee_covers_the_measured_learner():
    """bench/hub.py's measured peak (server and kernel through a module) fits in the guarantee."""
    measured = json.loads((ROOT / "bench" / "hub.json").read_text(encoding="utf-8"))
    peak_mib = max(row["peak_total_mb"] for row in measured["learners"])
    guarantee = values()["singleuser"]["memory"]["guarantee"]
    assert guarantee.endswith("M") and int(guarantee[:-1]) >= 1.25 * peak_mib, (guarantee, peak_mib)
