"""Probes: contract over the registry, known values per probe, not-applicable cases, seeding."""

from __future__ import annotations

import hashlib
import io

import numpy as np
import pytest
import soundfile as sf

from avsprobe.audio import measure_loudness
from avsprobe.errors import ConfigError, ProbeNotApplicable
from avsprobe.probes import PROBES
from avsprobe.probes.audio_probes import DEFAULT_LEVELS_LUFS
from avsprobe.probes.suite import ProbeSuite, load_suite, make_probe
from avsprobe.seeding import rng_for


def _probe(name: str, bank=None):  # noqa: ANN001, ANN202
    return make_probe(name, bank=bank)


@pytest.mark.parametrize("name", PROBES.names())
def test_probe_contract(name: str, samples: list, bank) -> None:  # noqa: ANN001
    probe = _probe(name, bank)
    conditions = probe.conditions()
    assert conditions[0].is_baseline and not any(c.is_baseline for c in conditions[1:])
    ids = [c.condition_id for c in conditions]
    assert len(set(ids)) == len(ids) and all(i.startswith(f"{name}/") for i in ids)
    applied_any = 0
    for sample in samples[:12]:
        before = (sample.audio.copy(), sample.frames.copy(), sample.mask.copy())
        for condition in conditions:
            try:
                out = probe.apply(sample, condition, rng_for(0, sample.sample_id, condition.condition_id))
            except ProbeNotApplicable:
                continue
            applied_any += 1
            assert out.audio.dtype == np.float32 and out.audio.shape == sample.audio.shape
            assert out.frames.dtype == np.uint8 and out.frames.shape == sample.frames.shape
            assert out.expected_mask.dtype == np.bool_ and out.expected_mask.shape == sample.mask.shape
            assert all(m.shape == sample.mask.shape for m in out.object_masks.values())
            assert np.isfinite(out.audio).all() and np.abs(out.audio).max() <= 1.0
            # the bias lab knows every class: labels exist and mark exactly the expected pixels
            assert out.expected_labels is not None
            assert np.array_equal(out.expected_labels > 0, out.expected_mask)
            if condition.is_baseline:
                assert np.array_equal(out.audio, sample.audio) and np.array_equal(out.frames, sample.frames)
        # pure: the input sample is never modified
        assert np.array_equal(before[0], sample.audio) and np.array_equal(before[1], sample.frames)
        assert np.array_equal(before[2], sample.mask)
    assert applied_any > len(conditions)


def _with(samples: list, predicate) -> object:  # noqa: ANN001
    """The first fixture sample of a kind; the fixture world is seeded, so it is always there (a change of
    world that loses it must fail, not skip)."""
    found = next((s for s in samples if predicate(s)), None)
    assert found is not None, "the fixture world lost a sample this test needs; grow it"
    return found


def test_intensity_levels_within_half_an_lu(samples: list) -> None:
    probe = _probe("intensity")
    sample = _with(samples, lambda s: s.mask.any())
    for condition in probe.conditions()[1:]:
        out = probe.apply(sample, condition, rng_for(0, sample.sample_id, condition.condition_id))
        target = condition.params["loudness_lufs"]
        assert measure_loudness(out.audio).value == pytest.approx(target, abs=0.5)
        assert out.applied["loudness_measure"] == "lufs"
        assert np.array_equal(out.expected_mask, sample.mask)
    assert [c.params["loudness_lufs"] for c in probe.conditions()[1:]] == list(DEFAULT_LEVELS_LUFS)
    silent = _with(samples, lambda s: not s.mask.any())
    with pytest.raises(ProbeNotApplicable, match="no sounding object"):
        probe.apply(silent, probe.conditions()[1], np.random.default_rng(0))


def test_semantic_rescales_the_target_and_plays_its_source(samples: list) -> None:
    probe = _probe("semantic")
    sample = samples[0]
    cls = sample.objects[0].class_name
    out = probe.apply(sample, probe.condition(cls), np.random.default_rng(0))
    assert 0.30 <= out.applied["area_reached"] <= 0.40 and out.applied["area_reached_ok"]
    assert out.expected_mask.reshape(5, -1).mean(axis=1).mean() == pytest.approx(out.applied["area_reached"])
    assert measure_loudness(out.audio).value == pytest.approx(-23.0, abs=0.5)
    absent = next(c for c in probe.classes if c not in {o.class_name for o in sample.objects})
    with pytest.raises(ProbeNotApplicable, match=f"no {absent} object"):
        probe.apply(sample, probe.condition(absent), np.random.default_rng(0))


def test_mix_expected_masks_and_levels(samples: list) -> None:
    probe = _probe("mix")
    sample = _with(samples, lambda s: len(s.objects) >= 2)
    a, b = probe.pair(sample)
    assert a.mask.sum() >= b.mask.sum()
    alone = probe.apply(sample, probe.condition("A@-41"), np.random.default_rng(0))
    assert np.array_equal(alone.expected_mask, a.mask)
    assert measure_loudness(alone.audio).value == pytest.approx(-41.0, abs=0.5)
    both = probe.apply(sample, probe.condition("A@-53+B@-23"), np.random.default_rng(0))
    assert np.array_equal(both.expected_mask, a.mask | b.mask)
    assert both.applied["A_loudness_lufs"] == pytest.approx(-53.0, abs=0.05)
    assert both.applied["B_loudness_lufs"] == pytest.approx(-23.0, abs=0.05)
    assert set(both.object_masks) == {"A", "B"}
    assert len(probe.conditions()) == 1 + 6 + 6 + 36
    single = _with(samples, lambda s: len(s.objects) == 1)
    with pytest.raises(ProbeNotApplicable, match="fewer than two objects"):
        probe.apply(single, probe.condition("A@-41"), np.random.default_rng(0))


def test_negative_conditions_have_empty_expected_masks(samples: list, bank) -> None:  # noqa: ANN001
    probe = _probe("negative", bank)
    sample = samples[0]
    for label in ("silence", "white", "pink", "offscreen"):
        out = probe.apply(sample, probe.condition(label), rng_for(0, sample.sample_id, f"negative/{label}"))
        assert not out.expected_mask.any()
        assert set(out.object_masks) == {o.object_id for o in sample.objects}
        if label == "silence":
            assert not out.audio.any()
        else:
            assert measure_loudness(out.audio).value == pytest.approx(-23.0, abs=0.5)
    off = probe.apply(sample, probe.condition("offscreen"), np.random.default_rng(1))
    assert off.applied["partner_class"] not in {o.class_name for o in sample.objects}
    with pytest.raises(ProbeNotApplicable, match="needs an audio bank"):
        _probe("negative").apply(sample, probe.condition("offscreen"), np.random.default_rng(0))


def test_swap_moves_the_expected_mask_to_a_silent_object(samples: list) -> None:
    probe = _probe("swap")
    sample = _with(samples, lambda s: any(o.is_sounding for o in s.objects) and any(not o.is_sounding for o in s.objects))
    out = probe.apply(sample, probe.condition("swapped"), np.random.default_rng(0))
    partner = next(o for o in sample.objects if o.object_id == out.applied["partner"])
    assert not partner.is_sounding and np.array_equal(out.expected_mask, partner.mask)
    assert out.applied["loudness_lufs"] == pytest.approx(measure_loudness(sample.audio).value, abs=0.1)
    only_sounding = _with(samples, lambda s: s.objects and all(o.is_sounding for o in s.objects))
    with pytest.raises(ProbeNotApplicable):
        probe.apply(only_sounding, probe.condition("swapped"), np.random.default_rng(0))


@pytest.mark.parametrize("area", [0.05, 0.10, 0.20, 0.35, 0.50])
def test_area_reaches_the_fraction_or_says_so(samples: list, area: float) -> None:
    probe = _probe("area")
    for sample in [s for s in samples if s.mask.any()][:6]:
        out = probe.apply(sample, probe.condition(f"area{area:.2f}"), np.random.default_rng(0))
        reached = out.applied["area_reached"]
        assert out.object_masks["target"].reshape(5, -1).mean(axis=1).mean() == pytest.approx(reached)
        assert out.applied["area_reached_ok"] == (abs(reached - area) <= 0.02)
        if area <= 0.35:
            assert out.applied["area_reached_ok"], (sample.sample_id, area, reached)


def _wav_sha(audio: np.ndarray) -> str:
    buf = io.BytesIO()
    sf.write(buf, audio, 16000, subtype="PCM_16", format="WAV")
    return hashlib.sha256(buf.getvalue()).hexdigest()


def test_same_seed_same_probed_wavs_in_any_order_or_subset(samples: list, bank) -> None:  # noqa: ANN001
    suite = load_suite("paper")
    probes = [p for p in suite.build(bank=bank) if p.name in ("negative", "swap", "mix")]
    ids = [s.sample_id for s in samples[:6]]
    by_id = {s.sample_id: s for s in samples}

    def run(jobs: list) -> dict[tuple[str, str], str]:
        out = {}
        for job in jobs:
            try:
                probed = job.probe.apply(by_id[job.sample_id], job.condition, suite.rng(job.sample_id, job.condition))
            except ProbeNotApplicable:
                continue
            out[(job.sample_id, job.condition.condition_id)] = _wav_sha(probed.audio)
        return out

    jobs = [j for j in suite.jobs(ids, probes) if j.probe.name != "mix" or "+" in j.condition.label][:80]
    forward = run(jobs)
    backward = run(list(reversed(jobs)))
    subset = run(jobs[1::3])
    assert forward == backward
    assert all(forward[k] == v for k, v in subset.items()) and subset
    noise = [k for k in forward if k[1] in ("negative/white", "negative/pink")]
    assert len({forward[k] for k in noise}) == len(noise)  # each clip gets its own noise


def test_suites_validate_their_parameters(tmp_path) -> None:  # noqa: ANN001
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\nversion = 1\nseed = 0\n[[probes]]\nprobe = "intensity"\nlevels_db = [1]\n')
    with pytest.raises(ConfigError, match="no parameter levels_db; it takes levels_lufs"):
        ProbeSuite.from_file(bad)
    bad.write_text('name = "x"\nversion = 1\nseed = 0\n[[probes]]\nprobe = "intensty"\n')
    with pytest.raises(ConfigError, match="Did you mean 'intensity'"):
        ProbeSuite.from_file(bad)
    with pytest.raises(ConfigError, match="distinct and increasing"):
        make_probe("intensity", {"levels_lufs": [-23, -53]})
    paper = load_suite("paper")
    assert [s.probe for s in paper.probes] == ["intensity", "semantic", "mix", "negative", "swap", "area"]
    # the fingerprint is a function of the suite's content: a round trip keeps it, any parameter moves it
    assert ProbeSuite.from_dict(paper.to_dict()).fingerprint() == paper.fingerprint()
    changed = paper.to_dict()
    changed["probes"][0]["levels_lufs"] = [-50.0, -23.0]
    assert ProbeSuite.from_dict(changed).fingerprint() != paper.fingerprint()
    assert ProbeSuite.single("intensity").fingerprint() != paper.fingerprint()


def test_offscreen_policies_draw_from_the_categories_avsbench_robust_allows() -> None:
    from avsprobe.errors import ConfigError
    from avsprobe.probes.audio_probes import NegativeProbe, offscreen_candidates

    bank = ["guitar", "piano", "man", "dog", "bird", "car", "bus", "drum"]
    assert offscreen_candidates(bank, {"guitar"}, "absent-class", "ms3") == [c for c in bank if c != "guitar"]
    # music on screen: neither music nor its least suitable contrast (human); drum has no category
    assert offscreen_candidates(bank, {"guitar"}, "other-category", "ms3") == ["dog", "bird", "car", "bus"]
    # a device on screen: MS3 also avoids music, S4 only the (empty) vehicle group
    assert offscreen_candidates(bank, {"car"}, "other-category", "ms3") == ["man", "dog", "bird"]
    assert offscreen_candidates(bank, {"car"}, "other-category", "s4") == ["guitar", "piano", "man", "dog", "bird"]
    # nothing of another category left: any absent class, as the MS3 routine falls back to any other video
    assert offscreen_candidates(["guitar", "piano"], {"guitar"}, "other-category", "ms3") == ["piano"]
    assert "offscreen_policy" not in NegativeProbe().params()  # the default keeps earlier run identities
    assert NegativeProbe(offscreen_policy="other-category").params()["offscreen_policy"] == "other-category"
    with pytest.raises(ConfigError, match="offscreen_policy"):
        NegativeProbe(offscreen_policy="nearby")
