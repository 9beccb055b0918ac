"""The capacity and recovery benches write their reports from what they measured, and say when issue 13's
targets are not met (no timing here: speed is measured by the benches themselves)."""
import json

from bench import capacity, first_frame, recovery, report

MACHINE = {"date": "2026-11-30 12:00 UTC", "cores": 2, "cpu": "test CPU", "ram_gb": 23.5, "python": "3.11",
           "versions": {"voila": "0.5", "jupyter_server": "2", "ipykernel": "7"}, "commit": "abc1234",
           "changed": [], "loadavg_start": (1.0, 1.0, 1.0)}


def level(label, failed, arrivals, p95, cores, waiting=0):
    usable = {"n": arrivals - failed, "median": p95 / 2, "p95": p95, "min": 0.1, "max": p95}
    return {"label": label, "arrivals": arrivals, "failures": [{"error": "not done in 30 s"}] * failed,
            "usable": usable, "cpu_cores": cores, "kernels_started": arrivals,
            "log_events": {"waiting page": waiting} if waiting else {}}


def test_the_capacity_report_gives_cpu_per_learner_and_the_load_test_verdict():
    cpu = [{"site": key, "label": key, "learners": 10, "usable": 10, "usable_s": {"median": 0.5},
            "startup_s": 20, "signin_cpu": s, "server_cpu": 2.0, "kernel_cpu": k}
           for key, s, k in (("ours", 0.4, 6.0), ("plain-pre", 0.0, 4.0))]
    text = capacity.markdown({"machine": MACHINE, "command": "python bench/capacity.py", "wall_s": 60,
                              "work": "/tmp/x", "pool": 3, "learners": 10, "module": "01-x.ipynb", "rate": 100,
                              "cpu": cpu, "levels": [level("ours", 25, 100, 9.0, 0.8, waiting=30),
                                                     level("plain-pre", 20, 100, 3.0, 1.1)]})
    assert "cost 0.84 CPU s on ours and 0.60 CPU s on preheated Voilà" in text
    assert "failed 20% of learners" in text and "not met in this run" in text
    assert "30 waiting pages" in text


def test_the_recovery_report_compares_the_slowest_learner_with_a_fresh_sites_first_page():
    crash = {"saving_before": 2, "saves_before": 9, "restart_gap_s": 0.1, "kernels_at_crash": 23, "orphans": [],
             "answered_s": 2.0, "cpu_server": 3.0, "cpu_kernels": 20.0, "kernels_started": 23,
             "after_restart_s": {"a": 5.0, "b": 9.0}}
    report = {"machine": MACHINE, "baseline": {"first_page_s": 4.0, "first_save_s": 5.0, "answered_s": 2.0},
              "crash": crash, "learners": 2, "pool": 3, "module": "01-x.ipynb", "deadline": 60, "work": "/tmp/x",
              "log_events": {}, "wall_s": 60, "lost": 0, "command": "python bench/recovery.py"}
    assert "every learner was saving again 9.0 s after the restart, 2.2× the 4.0 s" in recovery.markdown(report)
    assert "not met" in recovery.markdown(report)
    crash["after_restart_s"]["b"] = None
    assert "1 of 2 learners saved again within the 60 s" in recovery.markdown(report)


def test_the_hub_report_gives_each_learners_cpu_and_memory():
    from bench import hub

    row = {"user": "learner1", "spawn_s": 9.5, "start_cpu_s": 5.0, "page_usable_s": 4.25, "answering_s": 12.0, "items_answered": 6,
           "submit_s": 1.5, "cpu_s": 7.75, "measured_s": 30.0, "peak_server_mb": 150.0,
           "peak_kernels_mb": 120.5, "peak_total_mb": 270.5, "idle_server_mb": 140.0}
    text = hub.markdown({"when": "2026-11-30 19:00 UTC", "module": "01-x", "learners": [row],
                         "machine": MACHINE, "background": {"setup": {"mean": 0.5, "max": 1.25}}})
    assert "| learner1 | 9.50 | 5.00 | 4.25 | 12.00 | 6 | 1.50 | 7.75 | 150.00 | 120.50 | 270.50 | 140.00 |" in text
    assert "0.50 cores on average (peak 1.25)" in text


def test_the_hub_load_report_finds_each_paths_highest_rate_without_failures():
    from bench import hub_load

    def level(path, rate, totals, limit, cpu_by, rss_by, errors=0):
        failed = [{"kind": "http", "error": "not done in 120 s: server start"}] * errors
        results = [{"kind": "browser" if i == 0 else "http", "total": t, "signin": t / 2}
                   for i, t in enumerate(totals)] + failed
        samples = [{"t": 0.0, "rss": 0, "rss_by": {}, "cpu_by": {p: 0.0 for p in cpu_by}},
                   {"t": 50.0, "rss": sum(rss_by.values()), "rss_by": rss_by, "cpu_by": cpu_by}]
        return {"path": path, "rate": rate, "limit": limit, "arrivals": len(results), "results": results,
                "samples": samples}

    gb = 1024**3
    levels = [level("cohort", 60, [1.0], 30, {"server": 1.0}, {"server": gb}),
              level("cohort", 90, [1.0, 2.0, 3.0], 30, {"server": 10.0, "kernels": 20.0},
                    {"server": gb, "kernels": gb}),
              level("cohort", 110, [1.0, 2.0], 30, {"server": 10.0, "kernels": 20.0}, {"server": gb}, errors=1),
              level("hub", 5, [20.0, 25.0, 40.0], 120, {"hub": 5.0, "servers": 40.0, "kernels": 10.0},
                    {"hub": gb / 2, "servers": gb, "kernels": gb / 2}),
              level("hub", 10, [30.0, 90.0], 120, {"hub": 5.0, "servers": 40.0, "kernels": 10.0}, {"hub": gb},
                    errors=1)]
    levels[-1]["log_events"] = {"server's port taken": 1}
    background = {"setup": {"mean": 0.1, "max": 0.2, "machine": 1.0},
                  "load cohort 90/min": {"mean": 0.5, "max": 0.9, "machine": 1.9},
                  "load hub 5/min": {"mean": 0.25, "max": 0.5, "machine": 1.5}}
    result = {"command": "python bench/hub_load.py", "machine": MACHINE, "wall_s": 600, "work": "/tmp/x",
              "module": "01-x.ipynb", "levels": levels, "background": background,
              "options": {"cohort_limit": 30.0, "hub_limit": 120.0, "browser_every": 5, "pool": 3}}
    text = hub_load.markdown(result)
    assert ("the cohort site **90 a minute** (limit 30 s; rates run: 60, 90, 110); the hub path **5 a minute** with a "
            "limit of 120 s, and none of the rates run with the cohort's 30 s") in text
    # failed within 30 s: the learner that took 40 s; times from arrival; CPU by part, per learner, as cores
    assert ("| hub | 5 | 3 | 0 (120 s) | 1 | 25.00 / 38.50 | 20.00 (1) | 12.50 | hub 5.0, servers 40.0, kernels 10.0 "
            "| 18.33 | 1.10 | 2.00 (hub 0.50, servers 1.00, kernels 0.50) | 0.25 | – |") in text
    assert "| cohort | 110 | 3 | 1 (30 s) | 1 |" in text
    assert "- hub 10/min: not done in 120 s: server start" in text
    assert "| server's port taken: 1 |" in text
    assert "other processes used 0.38 cores on average during the load levels" in text
    background["load cohort 90/min"]["mean"] = 0.2
    assert "busy with other work" not in hub_load.markdown(result)


def test_the_load_report_judges_issue_13s_target_over_every_learner_a_failure_counting_as_never():
    def run(rate, site, failed, times):
        results = [{"kind": "http", "usable": t, "html": t} for t in times]
        results += [{"kind": "http", "error": "not done in 30 s: page HTML"}] * failed
        return {"rate": rate, "site": site, "arrivals": len(results), "results": results,
                "samples": [{"t": 0, "cpu": 0, "server_cpu": 0, "kernels": 1, "rss": 1}]}
    fast = [0.1] * 19 + [0.5]
    r = {"options": {"deadline": 30.0},
         "load": [run(50, "ours", 0, fast), run(50, "plain-pre", 5, [1.0] * 15),
                  run(70, "ours", 0, [0.1] * 18 + [9.0] * 2), run(70, "plain-pre", 2, [8.0] * 18),
                  run(90, "ours", 1, fast), run(90, "plain-pre", 20, [])]}
    verdict = report.load_target(r)[0]
    # 5 of 20 failed: preheated Voilà's p95 over every learner is a failure; over those done, 1 s.
    assert ("at 50 a minute, preheated Voilà failed 5 of 20 (p95 over 30 s; 1.00 s over those done) and ours "
            "0 of 20 (p95 0.10 s): met;") in verdict
    assert ("at 70 a minute, preheated Voilà failed 2 of 20 (p95 over 30 s; 8.00 s over those done) and ours "
            "0 of 20 (p95 9.00 s): met counting its failures, not against its learners done alone;") in verdict
    assert ("at 90 a minute, preheated Voilà failed 20 of 20 (p95 over 30 s; none done) and ours 1 of 21 "
            "(p95 0.50 s): not met.") in verdict
    r["load"] = r["load"][:2]
    r["load"][1] = run(50, "plain-pre", 1, [1.0] * 19)  # under 10% failed: no rate to judge at
    assert "was not judged" in report.load_target(r)[0]


def test_first_frame_compares_a_page_without_a_chart_by_its_control_alone():
    chart = '<figure class="allies-chart"><img alt="x" src="data:image/png;base64,AA=="></figure>'
    with_chart = f"<html><head></head><body><p>Text</p>{chart}</body></html>"
    without = "<html><head></head><body><p>Text</p><select><option>a</option></select></body></html>"

    pages = first_frame.variants(with_chart, "Module 1")
    assert list(pages) == ["served", "again", "blocked", "floor"]
    assert '<link rel="expect" href="#first-chart" blocking="render">' in pages["blocked"]
    assert chart in pages["floor"] and json.loads(first_frame.expect(with_chart))["chart"] is True

    pages = first_frame.variants(without, "Before you start")
    assert list(pages) == ["served", "again", "floor"]
    assert "allies-chart" not in pages["floor"] and "<select>" in pages["floor"]
    assert json.loads(first_frame.expect(without))["chart"] is False



def test_the_floor_ratio_uses_the_floors_loads_interleaved_with_ours_and_shows_the_floor_alone_beside_them():
    def cold(values):
        return [{"ok": True, "first": v, "usable": v * 5} for v in values]

    ours = {"01-m.ipynb": {"cold": cold([100, 110, 120])}, "02-m.ipynb": {"cold": cold([90, 90, 90])}}
    r = {"modules": ["01-m.ipynb", "02-m.ipynb"],
         "sites": {"ours": {"modules": ours},
                   "floor": {"modules": {"01-m.ipynb": {"cold": cold([50, 50, 50])},
                                         "02-m.ipynb": {"cold": cold([25, 25, 25])}}}}}
    alone = report._against_floor(r)
    assert "after each of ours" not in alone[0] and "Worst module: 3.60×, over the 3× target." in alone[0]
    assert "floor alone" not in "".join(alone)

    ours["01-m.ipynb"]["floor_interleaved"] = cold([20, 22, 24])  # (slower than alone would flatter ours)
    lines = report._against_floor(r)
    row = next(line for line in lines if line.startswith("| 01-m.ipynb"))
    assert row.split(" | ")[1:6] == ["22", "110", "5.00×", "50", "2.20×"]
    row = next(line for line in lines if line.startswith("| 02-m.ipynb"))
    assert row.split(" | ")[1:6] == ["25", "90", "3.60×", "25", "3.60×"]  # (no interleaved loads: its own)
    assert "one cold load of it after each of ours (not waiting" in lines[0]
    assert "Worst module: 5.00× (the larger of the two floors' ratios), over" in lines[0]

    ours["01-m.ipynb"]["floor_interleaved"] = cold([60, 60, 60])
    ours["02-m.ipynb"]["floor_interleaved"] = cold([60, 60, 60])
    waited = report._against_floor({**r, "floor_after_idle": True})[0]
    assert "after each of ours, once our site is idle again" in waited and "idle before" not in waited
    assert "Worst module: 3.60× (the larger of the two floors' ratios), over" in waited  # (02 against the floor alone)

    r["sites"]["floor"]["modules"]["02-m.ipynb"]["cold"] = cold([30, 30, 30])  # (90 / 30: at the target exactly)
    for load, (seconds, reached) in zip(ours["02-m.ipynb"]["floor_interleaved"], [(1.5, True), (30.2, False),
                                                                                   (2.5, True)]):
        load["ours_idle"] = {"waited_s": seconds, "reached": reached}
    within = report._against_floor({**r, "floor_after_idle": True})[0]
    assert "Worst module: 3.00× (the larger of the two floors' ratios), within the 3× target." in within
    assert ("once our site is idle again (idle before 2 of 3 floor loads, after a median wait of 2.5 s; still busy "
            "before the other 1, which went ahead after 30 s)") in within
