"""The mixing recipes, measured on their output."""

import hashlib
from collections import Counter

import numpy as np
import pytest

from mtlsed.data.build import BuildSpec, build_dataset
from mtlsed.data.format import read_dataset
from mtlsed.data.mix import active_segment, mix_desed_like, mix_overlapped
from mtlsed.data.synthetic import SyntheticBackgrounds, SyntheticEvents

SR = 8000


class ToneEvents:
    """Hand-made events: a 1 kHz tone of a known length after a known silence."""

    def __init__(self, lengths):
        self.lengths = lengths  # label -> (leading silence s, tone s)
        self.classes = list(lengths)

    def draw(self, rng, label):
        lead, dur = self.lengths[label]
        t = np.arange(int(dur * SR)) / SR
        return np.concatenate([np.zeros(int(lead * SR)), np.sin(2 * np.pi * 1000 * t)]).astype(np.float32)


def _rms(y):
    return float(np.sqrt(np.mean(np.asarray(y, dtype=np.float64) ** 2)))


def test_overlapped_protocol_on_hand_made_events():
    # "short": 0.5 s silence then 1 s tone -> padded to 4 s; "long": 6 s tone -> truncated to 4 s.
    events = ToneEvents({"short": (0.5, 1.0), "long": (0.0, 6.0)})
    m = mix_overlapped(np.random.default_rng(0), events, SyntheticBackgrounds(SR), SR)
    assert len(m.audio) == 10 * SR
    got = {e.label: (e.onset, e.offset) for e in m.events}
    # Labels come from the active part, not the padded 4 s window starting at 3 s.
    assert got["short"][0] == pytest.approx(3.5, abs=0.011)
    assert got["short"][1] == pytest.approx(4.5, abs=0.011)
    assert got["long"] == (pytest.approx(3.0, abs=0.011), pytest.approx(7.0, abs=0.011))
    for e in m.events:  # nothing of an event outside its 4 s window
        assert not np.any(e.audio[: 3 * SR]) and not np.any(e.audio[7 * SR :])
    np.testing.assert_allclose(m.audio, m.background + sum(e.audio for e in m.events), atol=1e-6)


def test_overlapped_protocol_on_the_embedded_set():
    ev, bg = SyntheticEvents(SR), SyntheticBackgrounds(SR)
    for seed in range(20):
        m = mix_overlapped(np.random.default_rng(seed), ev, bg, SR)
        labels = [e.label for e in m.events]
        assert len(labels) == 2 and len(set(labels)) == 2  # two different classes
        bg_rms = _rms(m.background)
        for e in m.events:
            assert 3.0 <= e.onset < e.offset <= 7.0 + 1e-9
            assert e.onset < 3.5  # every embedded event starts sounding right away
            active = e.audio[int(round(e.onset * SR)) : int(round(e.offset * SR))]
            snr = 20 * np.log10(_rms(active) / bg_rms)
            assert snr == pytest.approx(20.0, abs=0.2)


def test_desed_like_statistics():
    ev, bg = SyntheticEvents(SR), SyntheticBackgrounds(SR)
    counts, snrs, onsets, repeats = Counter(), [], [], 0
    n = 300
    for seed in range(n):
        m = mix_desed_like(np.random.default_rng(seed), ev, bg, SR)
        counts[len(m.events)] += 1
        labels = [e.label for e in m.events]
        repeats += len(labels) != len(set(labels))
        bg_rms = _rms(m.background)
        for e in m.events:
            assert 0 <= e.onset < e.offset <= 10.0
            a, b = int(round(e.onset * SR)), int(round(e.offset * SR))
            snrs.append(20 * np.log10(_rms(e.audio[a:b]) / bg_rms))
            onsets.append(e.onset)
    assert 0.05 < counts[0] / n < 0.16  # about 10 % empty clips
    assert set(counts) == {0, 1, 2, 3, 4}
    assert all(abs(counts[k] / n - 0.225) < 0.08 for k in (1, 2, 3, 4))
    assert 6.0 - 0.2 <= min(snrs) and max(snrs) <= 30.0 + 0.2
    assert np.std(snrs) > 5  # spread over the range (uniform 6-30 dB has std 6.9)
    assert min(onsets) < 1.0 and max(onsets) > 5.0
    assert repeats > 0  # same-class repeats happen


def test_active_segment_threshold():
    y = np.zeros(SR)
    y[2000:4000] = 1.0
    y[6000:6400] = 0.01  # -40 dB: below the 30 dB threshold, not active
    start, end = active_segment(y, SR)
    assert start == pytest.approx(2000 / SR, abs=0.011) and end == pytest.approx(4000 / SR, abs=0.011)
    assert active_segment(np.zeros(SR), SR) is None


def _digest(root):
    h = hashlib.sha256()
    for p in sorted((root / "audio").glob("*.wav")):
        h.update(p.read_bytes())
    for name in ("weak.tsv", "strong.tsv", "split.tsv"):
        h.update((root / name).read_bytes())
    return h.hexdigest()


def test_builds_are_deterministic_resumable_and_worker_independent(tmp_path):
    spec = BuildSpec("desed-like", 12, seed=5, sr=SR)
    one = build_dataset(tmp_path / "one", spec, workers=1)
    two = build_dataset(tmp_path / "two", BuildSpec("desed-like", 12, seed=5, sr=SR), workers=2)
    assert _digest(one) == _digest(two)
    index = read_dataset(one)
    assert sorted(Counter(index.split.values())) == ["test", "train", "val"]
    # An interrupted build: drop the index and two clips, keep a progress log of the rest.
    import json

    three = build_dataset(tmp_path / "three", spec, workers=1)
    records = []
    for name in sorted(index.weak)[2:]:
        i = int(name[5:10])
        evs = [[e.label, e.onset, e.offset, 0.0] for e in index.strong[name]]
        records.append({"i": i, "filename": name, "split": index.split[name], "events": evs})
    for f in ("weak.tsv", "strong.tsv", "split.tsv"):
        (three / f).unlink()
    for name in sorted(index.weak)[:2]:
        (three / "audio" / name).unlink()
    (three / ".progress.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records) + '{"i": 3, "fil')
    build_dataset(three, spec, workers=1)
    assert _digest(three) == _digest(one)
    with pytest.raises(FileExistsError, match="already holds a different data set"):
        build_dataset(three, BuildSpec("overlapped", 12, seed=5, sr=SR))
