"""The embedded sound set: procedurally generated sound events and backgrounds.

Every sound is drawn from a seeded ``numpy.random.Generator``, so a data set is
reproduced exactly from its seed and nothing has to be downloaded. The ten
classes have clearly different time-frequency signatures, but each varies
within its class (pitch, duration, envelope, harmonicity, noise colour,
modulation), and several pairs share frequency regions on purpose, so that
keeping their masks apart is a real problem:

- ``siren`` / ``dog_bark`` / ``bell``: harmonic or partial-rich, 0.3-3 kHz;
- ``speech`` / ``running_water``: energy spread over the speech band;
- ``bird_chirp`` / ``dish_clink``: short, high (2.5 kHz and up);
- ``engine`` / ``door_knock``: low frequencies.

(The test suite measures these overlaps on the mel band profiles.)

Generators return mono float32 waveforms with peak 1; the mixer sets levels.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

# One line per class for the book's table: what it is and what varies.
CLASS_NOTES: dict[str, str] = {
    "alarm_beep": "trains of pure or square-ish beeps, 0.8-2.5 kHz; beep length, gap and timbre vary",
    "siren": "frequency-modulated harmonic tone around 0.6-1.1 kHz; wail (slow) or yelp (fast)",
    "bird_chirp": "short fast frequency sweeps above 2 kHz, up or down, in irregular trills",
    "dog_bark": "1-4 harmonic bursts with a falling pitch (250-600 Hz) and a noisy attack",
    "speech": "formant-filtered glottal pulse train (f0 90-250 Hz) with syllable-rate modulation",
    "engine": "steady low harmonic hum (f0 25-70 Hz) with slow rpm drift and rumble noise",
    "running_water": "band-limited noise with fast random gurgling modulation",
    "door_knock": "2-6 damped low resonant transients (100-500 Hz) with a click",
    "bell": "struck inharmonic partials with a long exponential decay, 1-3 strikes",
    "dish_clink": "1-5 short high inharmonic pings (2.5-6 kHz)",
}


def _nyq_cap(f: np.ndarray | float, sr: int) -> np.ndarray | float:
    return np.minimum(f, 0.45 * sr)


def _osc(freq: np.ndarray, sr: int, rng: np.random.Generator) -> np.ndarray:
    """Phase of a time-varying frequency track (Hz per sample), random start phase."""
    return 2 * np.pi * np.cumsum(freq) / sr + rng.uniform(0, 2 * np.pi)


def _harmonics(f0: np.ndarray, sr: int, rng, n_harm: int, rolloff: float, amps=None) -> np.ndarray:
    """Sum of harmonics k*f0 with amplitude k**-rolloff, dropped above 0.45 sr."""
    phase = _osc(f0, sr, rng)
    y = np.zeros_like(f0)
    for k in range(1, n_harm + 1):
        fk = k * f0
        a = (k**-rolloff) if amps is None else amps(k, fk)
        y += np.where(fk < 0.45 * sr, a * np.sin(k * phase), 0.0)
    return y


def _ramp_env(n: int, sr: int, attack: float, release: float) -> np.ndarray:
    env = np.ones(n)
    na, nr = max(1, int(attack * sr)), max(1, int(release * sr))
    env[:na] *= np.linspace(0, 1, min(na, n))[: min(na, n)]
    env[-nr:] *= np.linspace(1, 0, min(nr, n))[-min(nr, n) :]
    return env


def _shaped_noise(n: int, sr: int, rng, exponent: float = 0.0, lo: float = 0.0, hi: float | None = None):
    """Noise with power ~ 1/f**exponent, band-limited to [lo, hi] Hz (FFT shaping)."""
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1 / sr)
    gain = np.ones_like(f)
    gain[1:] = f[1:] ** (-exponent / 2)
    gain[0] = 0
    gain *= (f >= lo) & (f <= (hi if hi is not None else sr / 2))
    y = np.fft.irfft(spec * gain, n)
    return y / (np.std(y) + 1e-12)


def _smooth_random(n: int, sr: int, rng, rate: float) -> np.ndarray:
    """A slowly varying random curve in [0, 1] with about ``rate`` changes per second."""
    n_knots = max(2, int(n / sr * rate) + 2)
    knots = rng.uniform(0, 1, n_knots)
    return np.interp(np.linspace(0, n_knots - 1, n), np.arange(n_knots), knots)


def _decay(n: int, sr: int, tau: float) -> np.ndarray:
    return np.exp(-np.arange(n) / (tau * sr))


def _place(y: np.ndarray, burst: np.ndarray, start: int) -> None:
    end = min(len(y), start + len(burst))
    if end > start:
        y[start:end] += burst[: end - start]


# -- the classes ----------------------------------------------------------------


def alarm_beep(rng: np.random.Generator, sr: int) -> np.ndarray:
    f0 = rng.uniform(800, 2500)
    beep, gap = rng.uniform(0.08, 0.35), rng.uniform(0.05, 0.3)
    n = int(rng.uniform(1.0, 4.5) * sr)
    squareness = rng.uniform(0, 0.6)
    nb = int(beep * sr)
    t = np.arange(nb) / sr
    phase = 2 * np.pi * f0 * t
    tone = np.sin(phase) + squareness * (np.sin(3 * phase) / 3 + np.sin(5 * phase) / 5)
    tone *= _ramp_env(nb, sr, 0.005, 0.005)
    y = np.zeros(n)
    start = 0
    while start < n:
        _place(y, tone, start)
        start += nb + int(gap * sr)
    return y


def siren(rng, sr):
    n = int(rng.uniform(2.0, 6.0) * sr)
    centre = rng.uniform(600, 1100)
    depth = rng.uniform(0.2, 0.5) * centre
    rate = rng.choice([rng.uniform(0.2, 0.6), rng.uniform(2.0, 4.0)])  # wail or yelp
    t = np.arange(n) / sr
    f0 = centre + depth * np.sin(2 * np.pi * rate * t + rng.uniform(0, 2 * np.pi))
    y = _harmonics(f0, sr, rng, n_harm=4, rolloff=rng.uniform(1.0, 2.5))
    return y * _ramp_env(n, sr, 0.2, 0.3)


def bird_chirp(rng, sr):
    n_chirps = rng.integers(2, 9)
    y = np.zeros(int(rng.uniform(0.6, 2.5) * sr))
    pos = 0
    up = rng.random() < 0.4
    for _ in range(n_chirps):
        dur = rng.uniform(0.04, 0.15)
        nc = int(dur * sr)
        f_hi = _nyq_cap(rng.uniform(3000, 7000), sr)
        f_lo = f_hi * rng.uniform(0.4, 0.8)
        f = np.linspace(f_lo, f_hi, nc) if up else np.linspace(f_hi, f_lo, nc)
        chirp = np.sin(_osc(f, sr, rng)) * np.hanning(nc)
        _place(y, chirp, pos)
        pos += nc + int(rng.uniform(0.02, 0.25) * sr)
        if pos >= len(y):
            break
    return y[: max(pos, 1)]


def dog_bark(rng, sr):
    n_barks = rng.integers(1, 5)
    f0_base = rng.uniform(250, 600)
    y = np.zeros(int(rng.uniform(0.4, 2.5) * sr))
    pos = 0
    formant = rng.uniform(700, 1500)
    for _ in range(n_barks):
        nb = int(rng.uniform(0.1, 0.3) * sr)
        f0 = f0_base * np.linspace(rng.uniform(1.1, 1.4), rng.uniform(0.7, 0.9), nb)
        amps = lambda k, fk: np.exp(-(((fk - formant) / 800.0) ** 2)) + 0.2 / k  # noqa: E731
        burst = _harmonics(f0, sr, rng, n_harm=14, rolloff=0, amps=amps)
        burst += 0.3 * _shaped_noise(nb, sr, rng, 1.0, 200, 4000) * _decay(nb, sr, 0.02)
        burst *= _ramp_env(nb, sr, 0.005, 0.01) * _decay(nb, sr, rng.uniform(0.06, 0.15))
        _place(y, burst, pos)
        pos += nb + int(rng.uniform(0.1, 0.4) * sr)
        if pos >= len(y):
            break
    return y[: max(pos, 1)]


def speech(rng, sr):
    n = int(rng.uniform(1.0, 5.0) * sr)
    t = np.arange(n) / sr
    f0 = rng.uniform(90, 250) * (1 + 0.08 * np.sin(2 * np.pi * rng.uniform(0.3, 1.5) * t))
    f0 *= 1 + 0.01 * rng.standard_normal(n).cumsum() / np.sqrt(sr)  # slow jitter
    syllable = rng.uniform(0.15, 0.3)
    n_syl = int(n / sr / syllable) + 2
    tracks = []
    for lo, hi in ((300, 850), (900, 2300), (2400, 3200)):
        knots = rng.uniform(lo, hi, n_syl)
        tracks.append(np.interp(t, np.arange(n_syl) * syllable, knots))

    coarse = slice(None, None, 64)  # formant gains vary slowly: evaluate every 4 ms, interpolate

    def amps(k, fk):
        g = sum(np.exp(-(((fk[coarse] - F[coarse]) / (80 + 0.06 * F[coarse])) ** 2)) for F in tracks)
        return np.interp(t, t[coarse], g) + 0.02

    y = _harmonics(f0, sr, rng, n_harm=int(min(40, 0.45 * sr / 90)), rolloff=0, amps=amps)
    y += 0.05 * _shaped_noise(n, sr, rng, 0.0, 2000, 6000)
    am = np.clip(np.sin(2 * np.pi * t / (2 * syllable) + rng.uniform(0, 6)) ** 2, 0, 1)
    am = 0.15 + 0.85 * am * (_smooth_random(n, sr, rng, 2) > 0.25)
    return y * am * _ramp_env(n, sr, 0.03, 0.05)


def engine(rng, sr):
    n = int(rng.uniform(3.0, 8.0) * sr)
    f0 = rng.uniform(25, 70) * (1 + 0.1 * (_smooth_random(n, sr, rng, 0.5) - 0.5))
    y = _harmonics(f0, sr, rng, n_harm=20, rolloff=rng.uniform(0.5, 1.2))
    y = y / (np.std(y) + 1e-12) + rng.uniform(0.2, 0.6) * _shaped_noise(n, sr, rng, 2.0, 20, 800)
    return y * _ramp_env(n, sr, 0.4, 0.4)


def running_water(rng, sr):
    n = int(rng.uniform(2.0, 8.0) * sr)
    lo, hi = rng.uniform(300, 1000), _nyq_cap(rng.uniform(2500, 6000), sr)
    y = _shaped_noise(n, sr, rng, rng.uniform(0.0, 1.5), lo, hi)
    gurgle = 0.4 + 0.6 * _smooth_random(n, sr, rng, rng.uniform(10, 30))
    return y * gurgle * _ramp_env(n, sr, 0.2, 0.3)


def door_knock(rng, sr):
    n_knocks = rng.integers(2, 7)
    interval = rng.uniform(0.1, 0.35)
    modes = rng.uniform(100, 500, rng.integers(2, 4))
    taus = rng.uniform(0.02, 0.06, len(modes))
    nk = int(0.25 * sr)
    t = np.arange(nk) / sr
    knock = sum(np.sin(2 * np.pi * f * t) * np.exp(-t / tau) for f, tau in zip(modes, taus, strict=True))
    knock = knock + 0.5 * _shaped_noise(nk, sr, rng, 1.0, 500, 5000) * np.exp(-t / 0.004)
    y = np.zeros(int((n_knocks * interval + 0.3) * sr))
    for i in range(n_knocks):
        _place(y, knock * rng.uniform(0.6, 1.0), int((i * interval + rng.uniform(0, 0.02)) * sr))
    return y


BELL_RATIOS = np.array([0.5, 1.0, 1.183, 1.506, 2.0, 2.514, 2.662, 3.011])


def bell(rng, sr):
    f0 = rng.uniform(300, 1200)
    tau = rng.uniform(0.5, 2.0)
    n_strikes = rng.integers(1, 4)
    gap = rng.uniform(0.4, 1.2)
    ns = int(min(4 * tau, 3.0) * sr)
    t = np.arange(ns) / sr
    ratios = BELL_RATIOS * (1 + 0.01 * rng.standard_normal(len(BELL_RATIOS)))
    partials = [(r * f0, rng.uniform(0.3, 1.0)) for r in ratios if r * f0 < 0.45 * sr]
    strike = sum(a * np.sin(2 * np.pi * f * t) * np.exp(-t * f / (f0 * tau)) for f, a in partials)
    strike *= _ramp_env(ns, sr, 0.002, 0.3)  # fade out the tail cut at 3 s
    y = np.zeros(int(((n_strikes - 1) * gap) * sr) + ns)
    for i in range(n_strikes):
        _place(y, strike, int(i * gap * sr))
    return y


def dish_clink(rng, sr):
    n_clinks = rng.integers(1, 6)
    y = np.zeros(int(rng.uniform(0.3, 2.0) * sr))
    pos = 0
    for _ in range(n_clinks):
        f = _nyq_cap(rng.uniform(2500, 6000), sr)
        tau = rng.uniform(0.03, 0.15)
        nc = int(5 * tau * sr)
        t = np.arange(nc) / sr
        ratios = [1.0, 2.32, 4.25]
        ping = sum(
            (0.7**i) * np.sin(2 * np.pi * min(f * r, 0.45 * sr) * t) * np.exp(-t / (tau / (i + 1)))
            for i, r in enumerate(ratios)
        )
        _place(y, ping * _ramp_env(nc, sr, 0.001, 0.005), pos)
        pos += int(rng.uniform(0.08, 0.5) * sr)
        if pos >= len(y):
            break
    return y


GENERATORS: dict[str, Callable[[np.random.Generator, int], np.ndarray]] = {
    "alarm_beep": alarm_beep,
    "siren": siren,
    "bird_chirp": bird_chirp,
    "dog_bark": dog_bark,
    "speech": speech,
    "engine": engine,
    "running_water": running_water,
    "door_knock": door_knock,
    "bell": bell,
    "dish_clink": dish_clink,
}


def synth_event(label: str, rng: np.random.Generator, sr: int) -> np.ndarray:
    """One sound event of class ``label``: mono float32, peak 1, its own natural duration."""
    if label not in GENERATORS:
        raise KeyError(f"unknown embedded class {label!r}; known: {list(GENERATORS)}")
    y = GENERATORS[label](rng, sr)
    return (y / (np.max(np.abs(y)) + 1e-12)).astype(np.float32)


def synth_background(rng: np.random.Generator, n: int, sr: int) -> np.ndarray:
    """A non-stationary ambience of ``n`` samples with RMS 1.

    Coloured noise with a slowly drifting level and tilt, mains hum half of the
    time, and sparse soft transients; never silence.
    """
    slow = 0.5 + _smooth_random(n, sr, rng, rng.uniform(0.1, 0.6))
    y = _shaped_noise(n, sr, rng, rng.uniform(0.8, 2.0), 20, None) * slow
    y += 0.4 * _shaped_noise(n, sr, rng, 0.5, 200, min(4000, 0.45 * sr)) * _smooth_random(n, sr, rng, 0.3)
    if rng.random() < 0.5:
        mains = rng.choice([50.0, 60.0])
        t = np.arange(n) / sr
        y += rng.uniform(0.1, 0.4) * sum(np.sin(2 * np.pi * mains * k * t) / k for k in (1, 2, 3))
    n_tr = rng.poisson(rng.uniform(0.2, 1.0) * n / sr)
    for _ in range(n_tr):
        m = int(0.03 * sr)
        burst = _shaped_noise(m, sr, rng, 1.5, 100, min(3000, 0.45 * sr)) * _decay(m, sr, 0.006)
        _place(y, rng.uniform(0.5, 2.0) * burst, int(rng.integers(0, max(1, n - m))))
    return (y / (np.sqrt(np.mean(y**2)) + 1e-12)).astype(np.float32)


class SyntheticEvents:
    """Event source over the embedded classes (the same interface as the file pools)."""

    def __init__(self, sr: int, classes: list[str] | None = None):
        self.sr = sr
        self.classes = list(classes or GENERATORS)
        unknown = set(self.classes) - set(GENERATORS)
        if unknown:
            raise KeyError(f"unknown embedded classes {sorted(unknown)}")

    def draw(self, rng: np.random.Generator, label: str) -> np.ndarray:
        return synth_event(label, rng, self.sr)


class SyntheticBackgrounds:
    """Background source of embedded ambiences."""

    def __init__(self, sr: int):
        self.sr = sr

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return synth_background(rng, n, self.sr)
