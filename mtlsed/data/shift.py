"""Robustness to a change of channel: named, seeded transforms of a held-out split.

A model trained on one set of recordings may meet the same sounds through another channel: another
microphone, a room, a codec, a louder background. :data:`TRANSFORMS` holds one named transform per
channel; :func:`shift_split` writes a copy of a data set whose held-out split went through one of them,
and :func:`shifted_sets` makes one copy per transform, so a trained model can be evaluated on each.

Every transform maps ``y (S,) float32`` at ``sr`` Hz to ``(S,) float32`` of the same length, time-aligned
with the input (linear-phase filters with their delay removed, a room's direct path at time 0, the codec
delay measured and removed). A device's channel is the same for every clip it records:
:func:`make_channel` draws the parameters once from ``seed`` (the same filter, room, bitrate for every
clip) and per-clip randomness (noise samples) from a generator seeded by ``(seed, clip index)``, so a
result depends neither on the order the clips are processed in nor on how many runs made it.

Transforms (parameters drawn per device; ``make_channel(..., params=...)`` fixes any of them):

- ``mic``: another microphone's response. A 2nd-order high-pass ``low_cut_hz`` in 100-300 Hz
  (``|H|^2 = r^4 / (1 + r^4)``, ``r = f / low_cut_hz``), a presence peak or dip of ``presence_db``
  (±3-6 dB) centred at ``presence_hz`` (2-6 kHz, at most 0.7 Nyquist), Gaussian in octaves with a full
  width at half height of ``presence_octaves`` (0.7-1.5), and a 2nd-order roll-off at ``rolloff_hz``
  (0.6-0.9 Nyquist, ``|H|^2 = 1 / (1 + (f / rolloff_hz)^4)``). Applied as a linear-phase FIR of
  :data:`FIR_SECONDS` (a windowed design, ``scipy.signal.firwin2``), its delay removed.
- ``eq``: random EQ. ``gains_db`` (each in ±6 dB) at 4-8 ``centres_hz`` log-spaced from 100 Hz to
  0.8 Nyquist, joined by a monotone cubic (PCHIP) in log frequency, constant beyond the end centres.
  Applied as a linear-phase FIR.
- ``room``: reverberation. Convolution with a synthetic impulse response: a direct path of amplitude 1
  at time 0, then Gaussian noise decaying as ``exp(-6.91 t / rt60_s)`` (60 dB of energy in ``rt60_s``,
  drawn in 0.3-0.8 s), ``rt60_s`` long, scaled so that the direct-to-reverberant energy ratio is
  ``drr_db`` (-3 to 6 dB); the noise comes from ``tail_seed``. The output's RMS is the input's; the
  reverberation past the clip's end is cut, as a recording of the same length would cut it.
- ``codec``: a lossy codec. MP3 (MPEG Layer III, constant ``bitrate_kbps``: 24-48 kbps at 16-24 kHz,
  32-64 at 32-48 kHz, 8-32 below 16 kHz) through libsndfile when it can write MP3 at the clip's rate
  (``kind`` "mp3"); otherwise a telephone channel (``kind`` "mulaw"): a 4th-order band-pass
  ``low_hz``-``high_hz`` (200-400 Hz to 3000-3600 Hz, zero phase), 8 kHz, 8-bit μ-law (μ = 255) and
  back. :func:`codec_kind` says which runs for a rate, and ``kind`` in the parameters (``shift.json``)
  which ran. The input is clipped to [-1, 1] as an encoder would. The codec's delay (none, or 1105
  samples at low bitrates with this libsndfile) is measured once per (rate, length, bitrate) on a noise
  probe and removed. The bitrate is one of a few, so two seeds may draw the same MP3 channel.
- ``noise``: another background level. Pink noise (power ∝ 1/f) at ``snr_db`` (default 10 dB) below
  the clip's RMS, new noise for every clip. A silent clip stays silent.

:func:`shift_split` writes the transformed clips as 16-bit WAV at their original rate, mixed down to
mono as mtlsed reads them. A clip that would clip (peak above full scale) is scaled to a peak of
:data:`PEAK` and listed under ``normalised`` in ``shift.json`` with the gain applied; no other clip is
rescaled.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from math import gcd
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.interpolate import PchipInterpolator
from scipy.signal import butter, correlate, firwin2, oaconvolve, resample_poly, sosfiltfilt

from mtlsed.core.atomic import atomic_path, write_bytes, write_json
from mtlsed.core.errors import UserError
from mtlsed.data.audio import fix_length, load_audio
from mtlsed.data.format import SPLITS, read_dataset
from mtlsed.data.ours import OWN_DIR, made_by, mark, refuse_foreign

log = logging.getLogger(__name__)

PEAK = 0.99  # a transformed clip whose peak would pass full scale is scaled to this peak
FIR_SECONDS = 0.2  # length of the linear-phase FIRs of mic and eq (about 5 Hz resolution)
SETTINGS = "shift.json"
CLIP_LOG = OWN_DIR / "shift-clips.tsv"  # name, peak, gain of every transformed clip
# the label files copied, weak.tsv last: a set without it is not read, so it marks the copy done
LABEL_FILES = ("dataset.json", "groups.tsv", "classes.txt", "strong.tsv", "split.tsv", "weak.tsv")

Params = dict
Apply = Callable[[np.ndarray, np.random.Generator], np.ndarray]


@dataclass(frozen=True)
class Transform:
    """A named channel: ``draw`` a device's parameters, ``build`` its function of a clip.

    Calling it, ``transform(y (S,), sr, rng) -> (S,)``, draws the parameters from ``rng`` and applies
    them with the same ``rng``: a pure function of its arguments.
    """

    name: str
    models: str  # what it models, one line
    keys: tuple[str, ...]  # the parameters ``params`` may fix
    draw: Callable[[np.random.Generator, int, Params], Params]  # (rng, sr, fixed) -> parameters
    build: Callable[[Params, int], Apply]  # (parameters, sr) -> (y (S,), clip rng) -> (S,)
    response: Callable[[Params, np.ndarray], np.ndarray] | None = None  # (params, f Hz) -> |H(f)|

    def __call__(self, y: np.ndarray, sr: int, rng: np.random.Generator) -> np.ndarray:
        return self.build(self.draw(rng, sr, {}), sr)(_mono(y), rng)


# -- shared pieces ----------------------------------------------------------------


def _mono(y: np.ndarray) -> np.ndarray:
    y = np.asarray(y, dtype=np.float32)
    if y.ndim != 1:
        raise ValueError(f"expected mono samples of shape (S,), got {y.shape}")
    return y


def _rms(y: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(y, dtype=np.float64)))) if len(y) else 0.0


def _uniform(rng: np.random.Generator, low: float, high: float) -> float:
    return float(rng.uniform(low, high))


def _fixed(drawn: Params, fixed: Params) -> Params:
    return {**drawn, **fixed}


def linear_phase_fir(amplitude: Callable[[np.ndarray], np.ndarray], sr: int) -> np.ndarray:
    """An odd-length ``(T,)`` linear-phase FIR whose magnitude follows ``amplitude(f Hz)`` (linear)."""
    taps = int(FIR_SECONDS * sr) // 2 * 2 + 1
    f = np.linspace(0.0, sr / 2, 4097)
    return firwin2(taps, f, amplitude(f), fs=sr).astype(np.float64)


def apply_fir(y: np.ndarray, h: np.ndarray) -> np.ndarray:
    """``y (S,)`` through the odd-length linear-phase FIR ``h (T,)``, its delay ``(T - 1) / 2`` removed."""
    delay = (len(h) - 1) // 2
    return oaconvolve(y.astype(np.float64), h)[delay : delay + len(y)].astype(np.float32)


def _fir_build(response: Callable[[Params, np.ndarray], np.ndarray]) -> Callable[[Params, int], Apply]:
    def build(params: Params, sr: int) -> Apply:
        h = linear_phase_fir(lambda f: response(params, f), sr)
        return lambda y, rng: apply_fir(y, h)

    return build


# -- mic --------------------------------------------------------------------------


def _mic_draw(rng: np.random.Generator, sr: int, fixed: Params) -> Params:
    nyquist = sr / 2
    sign = 1.0 if rng.random() < 0.5 else -1.0
    return _fixed(
        {
            "low_cut_hz": _uniform(rng, 100.0, 300.0),
            "presence_hz": min(float(np.exp(rng.uniform(np.log(2000.0), np.log(6000.0)))), 0.7 * nyquist),
            "presence_db": sign * _uniform(rng, 3.0, 6.0),
            "presence_octaves": _uniform(rng, 0.7, 1.5),
            "rolloff_hz": _uniform(rng, 0.6, 0.9) * nyquist,
        },
        fixed,
    )


def mic_response(params: Params, f: np.ndarray) -> np.ndarray:
    """``|H(f)| (F,)``, linear, of a ``mic`` channel at the frequencies ``f (F,)`` in Hz."""
    f = np.asarray(f, dtype=np.float64)
    r = f / params["low_cut_hz"]
    low = r**2 / np.sqrt(1.0 + r**4)
    high = 1.0 / np.sqrt(1.0 + (f / params["rolloff_hz"]) ** 4)
    sigma = params["presence_octaves"] / (2.0 * np.sqrt(2.0 * np.log(2.0)))
    with np.errstate(divide="ignore"):
        octaves = np.log2(np.maximum(f, 1e-3) / params["presence_hz"])
    bell_db = params["presence_db"] * np.exp(-0.5 * (octaves / sigma) ** 2)
    return low * high * 10.0 ** (bell_db / 20.0)


# -- eq ---------------------------------------------------------------------------


def _eq_draw(rng: np.random.Generator, sr: int, fixed: Params) -> Params:
    bands = int(rng.integers(4, 9))
    centres = np.geomspace(100.0, 0.8 * sr / 2, bands)
    gains = rng.uniform(-6.0, 6.0, bands)
    return _fixed({"centres_hz": centres.tolist(), "gains_db": gains.tolist()}, fixed)


def eq_response(params: Params, f: np.ndarray) -> np.ndarray:
    """``|H(f)| (F,)``, linear, of an ``eq`` channel: its gains joined by PCHIP in log frequency."""
    centres = np.log2(np.asarray(params["centres_hz"], dtype=np.float64))
    gains = np.asarray(params["gains_db"], dtype=np.float64)
    x = np.clip(np.log2(np.maximum(np.asarray(f, dtype=np.float64), 1e-3)), centres[0], centres[-1])
    return 10.0 ** (PchipInterpolator(centres, gains)(x) / 20.0)


# -- room -------------------------------------------------------------------------


def _room_draw(rng: np.random.Generator, sr: int, fixed: Params) -> Params:
    return _fixed(
        {
            "rt60_s": _uniform(rng, 0.3, 0.8),
            "drr_db": _uniform(rng, -3.0, 6.0),
            "tail_seed": int(rng.integers(2**31)),
        },
        fixed,
    )


def room_impulse_response(params: Params, sr: int) -> np.ndarray:
    """``(L,)`` impulse response, ``L = round(rt60_s * sr) + 1``: direct path 1 at 0, decaying noise after."""
    n = int(round(params["rt60_s"] * sr)) + 1
    t = np.arange(n) / sr
    envelope = np.exp(-6.9078 * t / params["rt60_s"])  # amplitude 60 dB down at rt60_s
    tail = np.random.default_rng(params["tail_seed"]).standard_normal(n) * envelope
    tail[0] = 0.0
    tail *= np.sqrt(10.0 ** (-params["drr_db"] / 10.0) / np.sum(tail**2))
    tail[0] = 1.0
    return tail


def _room_build(params: Params, sr: int) -> Apply:
    h = room_impulse_response(params, sr)

    def apply(y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        out = oaconvolve(y.astype(np.float64), h)[: len(y)]
        level = _rms(out)
        return (out * (_rms(y) / level) if level > 0 else out).astype(np.float32)

    return apply


# -- codec ------------------------------------------------------------------------

MP3_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)


def _mp3_range(sr: int) -> tuple[float, float, tuple[int, ...]]:
    """(highest, lowest kbps of libsndfile's compression scale, low bitrates to draw from) at ``sr``."""
    if sr >= 32000:  # MPEG-1
        return 320.0, 32.0, (32, 40, 48, 56, 64)
    if sr >= 16000:  # MPEG-2
        return 160.0, 8.0, (24, 32, 40, 48)
    return 64.0, 8.0, (8, 16, 24, 32)  # MPEG-2.5


def mp3_roundtrip(y: np.ndarray, sr: int, kbps: int) -> np.ndarray:
    """``y (S,)`` encoded as constant-bitrate MP3 and decoded: ``(S',)``, delayed and longer or not."""
    high, low, _ = _mp3_range(sr)
    level = (high - kbps - 0.5) / (high - low)  # libsndfile: kbps = int(high - level * (high - low))
    buf = io.BytesIO()
    sf.write(buf, np.clip(y, -1.0, 1.0), sr, format="MP3", subtype="MPEG_LAYER_III",
             compression_level=level, bitrate_mode="CONSTANT")  # fmt: skip
    buf.seek(0)
    out, _ = sf.read(buf, dtype="float32", always_2d=True)
    return out.mean(axis=1)


@cache
def mp3_writable(sr: int) -> bool:
    """Whether this libsndfile (and soundfile) can write and read MP3 at ``sr``."""
    if sr not in MP3_RATES or "MP3" not in sf.available_formats():
        return False
    if "MPEG_LAYER_III" not in sf.available_subtypes("MP3"):
        return False
    try:
        return len(mp3_roundtrip(np.zeros(sr // 10, np.float32), sr, _mp3_range(sr)[2][0])) > 0
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError):  # TypeError: soundfile < 0.13
        return False


def codec_kind(sr: int) -> str:
    """``"mp3"`` when MP3 can be written at ``sr`` here, else ``"mulaw"`` (the telephone channel)."""
    return "mp3" if mp3_writable(sr) else "mulaw"


@cache
def mp3_delay(sr: int, n: int, kbps: int) -> int:
    """Samples by which a decoded MP3 of ``n`` samples lags its input (cross-correlation on a noise probe)."""
    probe = 0.1 * np.random.default_rng(n).standard_normal(n).astype(np.float32)
    out = mp3_roundtrip(probe, sr, kbps)
    c = correlate(out.astype(np.float64), probe.astype(np.float64), mode="full", method="fft")
    lags = np.arange(-(n - 1), len(out))
    window = (lags >= 0) & (lags <= 4 * 1152)  # an encoder and a decoder delay, at most a few frames
    return int(lags[window][np.argmax(c[window])])


def _codec_draw(rng: np.random.Generator, sr: int, fixed: Params) -> Params:
    choices = _mp3_range(sr)[2]
    bitrate = int(choices[int(rng.integers(len(choices)))])
    low, high = _uniform(rng, 200.0, 400.0), _uniform(rng, 3000.0, 3600.0)  # drawn whatever the kind
    kind = fixed.get("kind", codec_kind(sr))
    if kind == "mp3":
        drawn: Params = {"kind": "mp3", "bitrate_kbps": bitrate}
    elif kind == "mulaw":
        drawn = {"kind": "mulaw", "low_hz": low, "high_hz": high, "rate": 8000, "mu": 255}
    else:
        raise ValueError(f"codec kind {kind!r}: expected 'mp3' or 'mulaw'")
    return _fixed(drawn, fixed)


def mulaw_roundtrip(y: np.ndarray, mu: int = 255, bits: int = 8) -> np.ndarray:
    """``y (S,)`` in [-1, 1] companded with μ-law, quantised to ``2**bits`` levels and expanded."""
    x = np.clip(y.astype(np.float64), -1.0, 1.0)
    companded = np.sign(x) * np.log1p(mu * np.abs(x)) / np.log1p(mu)
    steps = 2**bits - 1
    q = np.round((companded + 1.0) / 2.0 * steps) / steps * 2.0 - 1.0
    return np.sign(q) * np.expm1(np.abs(q) * np.log1p(mu)) / mu


def _telephone(params: Params, sr: int) -> Apply:
    nyquist = sr / 2
    band = [params["low_hz"], min(params["high_hz"], 0.9 * nyquist)]
    sos = butter(4, band, btype="bandpass", fs=sr, output="sos")
    rate = min(int(params["rate"]), sr)
    g = gcd(rate, sr)

    def apply(y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        x = sosfiltfilt(sos, y.astype(np.float64))
        x = resample_poly(x, rate // g, sr // g) if rate != sr else x
        x = mulaw_roundtrip(x, int(params["mu"]))
        x = resample_poly(x, sr // g, rate // g) if rate != sr else x
        return fix_length(x, len(y)).astype(np.float32)

    return apply


def _codec_build(params: Params, sr: int) -> Apply:
    if params["kind"] == "mulaw":
        return _telephone(params, sr)
    if not mp3_writable(sr):
        raise ValueError(f"MP3 cannot be written at {sr} Hz here (codec kind 'mp3'); use kind 'mulaw'")
    kbps = int(params["bitrate_kbps"])

    def apply(y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        lag = mp3_delay(sr, len(y), kbps)
        return fix_length(mp3_roundtrip(y, sr, kbps)[lag:], len(y)).astype(np.float32)

    return apply


# -- noise ------------------------------------------------------------------------


def pink_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    """``(n,)`` pink noise (power spectral density ∝ 1/f, no DC) of unit RMS."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    f = np.arange(len(spectrum), dtype=np.float64)
    spectrum[0] = 0.0
    spectrum[1:] /= np.sqrt(f[1:])
    noise = np.fft.irfft(spectrum, n)
    level = _rms(noise)
    return noise / level if level > 0 else noise


def _noise_draw(rng: np.random.Generator, sr: int, fixed: Params) -> Params:
    return _fixed({"snr_db": 10.0}, fixed)


def _noise_build(params: Params, sr: int) -> Apply:
    def apply(y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        level = _rms(y) * 10.0 ** (-params["snr_db"] / 20.0)
        return (y + level * pink_noise(len(y), rng)).astype(np.float32)

    return apply


TRANSFORMS: dict[str, Transform] = {
    t.name: t
    for t in (
        Transform(
            "mic",
            "another microphone: low cut, presence peak or dip, high roll-off (linear-phase FIR)",
            ("low_cut_hz", "presence_hz", "presence_db", "presence_octaves", "rolloff_hz"),
            _mic_draw,
            _fir_build(mic_response),
            mic_response,
        ),
        Transform(
            "eq",
            "random equalisation: ±6 dB at 4-8 log-spaced bands, smoothly joined (linear-phase FIR)",
            ("centres_hz", "gains_db"),
            _eq_draw,
            _fir_build(eq_response),
            eq_response,
        ),
        Transform(
            "room",
            "reverberation: a synthetic room impulse response, RT60 0.3-0.8 s, level kept",
            ("rt60_s", "drr_db", "tail_seed"),
            _room_draw,
            _room_build,
        ),
        Transform(
            "codec",
            "a lossy codec: low-bitrate MP3, else an 8 kHz μ-law telephone channel",
            ("kind", "bitrate_kbps", "low_hz", "high_hz", "rate", "mu"),
            _codec_draw,
            _codec_build,
        ),
        Transform(
            "noise",
            "another background level: pink noise at a fixed SNR below the clip's RMS",
            ("snr_db",),
            _noise_draw,
            _noise_build,
        ),
    )
}


def check_transform(name: str) -> Transform:
    """The transform called ``name``; an unknown name is a :class:`UserError` listing the known ones."""
    if name not in TRANSFORMS:
        raise UserError(f"unknown transform {name!r}; known: {', '.join(TRANSFORMS)}")
    return TRANSFORMS[name]


# -- a device's channel -------------------------------------------------------------


def _salt(name: str) -> int:
    return zlib.crc32(name.encode())


@dataclass
class Channel:
    """One device: the transform ``name`` with parameters drawn once from ``seed``.

    ``channel(y (S,), index) -> (S,)``; ``index`` (the clip's position in its split) seeds the clip's
    own randomness together with ``seed``, so clips can be processed in any order.
    """

    name: str
    seed: int
    sr: int
    params: Params
    _apply: Apply = field(repr=False)

    def __call__(self, y: np.ndarray, index: int = 0) -> np.ndarray:
        rng = np.random.default_rng([int(self.seed), _salt(self.name), 1, int(index)])
        out = self._apply(_mono(y), rng)
        assert out.shape == (len(y),) and out.dtype == np.float32
        return out

    def response(self, f: np.ndarray) -> np.ndarray:
        """``|H(f)| (F,)`` of a filtering channel (mic, eq) at ``f (F,)`` Hz."""
        transform = TRANSFORMS[self.name]
        if transform.response is None:
            raise ValueError(f"transform {self.name!r} has no magnitude response")
        return transform.response(self.params, np.asarray(f, dtype=np.float64))


def make_channel(name: str, seed: int, sr: int, params: Params | None = None) -> Channel:
    """The channel of a device: ``name``'s parameters drawn once from ``seed`` at ``sr`` Hz.

    ``params`` fixes some of them (e.g. ``{"snr_db": 5.0}``, ``{"kind": "mulaw"}``); the others are
    drawn as without it.
    """
    transform = check_transform(name)
    fixed = dict(params or {})
    unknown = sorted(set(fixed) - set(transform.keys))
    if unknown:
        raise UserError(f"transform {name!r} has no parameter(s) {unknown}; it has {transform.keys}")
    drawn = transform.draw(np.random.default_rng([int(seed), _salt(name), 0]), int(sr), fixed)
    return Channel(name, int(seed), int(sr), drawn, transform.build(drawn, int(sr)))


# -- a shifted copy of a data set ---------------------------------------------------


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16] if path.is_file() else "absent"


def _marker_line(transform: str, seed: int, data: Path) -> str:
    return f"shift {transform} seed {seed} of {data}"


def _differences(old: dict, new: dict) -> list[str]:
    """What differs between the settings ``old`` (of a folder) and ``new`` (asked), one phrase each."""
    out = []
    for key, value in new.items():
        before = old.get(key)
        if before == value:
            continue
        if isinstance(value, dict) and isinstance(before, dict):  # labels, params: name the entries
            inner = sorted(k for k in set(value) | set(before) if value.get(k) != before.get(k))
            out += [f"{key} {k}: {before.get(k)!r} there, {value.get(k)!r} asked" for k in inner]
        else:
            out.append(f"{key}: {before!r} there, {value!r} asked")
    return out


def _claim(out: Path, settings: dict) -> None:
    """Make ``out`` ours, or check that it already holds this very shift (else FileExistsError)."""
    line = _marker_line(settings["transform"], settings["seed"], Path(settings["data"]))
    refuse_foreign(out, "shift")
    made = made_by(out)
    if made is not None:
        if not made.startswith("shift "):
            raise FileExistsError(f"{out} was made by mtlsed {made.split(' ')[0]!r}, not by shift")
        path = out / SETTINGS
        old = json.loads(path.read_text()) if path.is_file() else None
        if old is not None:
            differ = _differences(old, settings)
        else:  # killed before shift.json was written: the marker says what it was
            differ = [] if made == line else [f"made as {made!r}, asked {line!r}"]
        if differ:
            raise FileExistsError(
                f"{out} holds another shift ({'; '.join(differ)}); choose another folder or remove it"
            )
    (out / "audio").mkdir(parents=True, exist_ok=True)
    if not (out / SETTINGS).is_file():
        mark(out, line)  # first: a folder with our files always has our marker
        write_json(out / SETTINGS, settings)
    for stale in [
        *out.glob(".*.tmp"),
        *(out / OWN_DIR).glob(".*.tmp"),
        *(out / "audio").rglob(".*.tmp.wav"),
    ]:
        stale.unlink()  # left by a run killed mid-write (mtlsed.core.atomic names them so)


def _split_clips(data: Path, split: str) -> tuple[list[str], list[str]]:
    """(clips of ``split`` in weak.tsv order, the other clips) of the data set at ``data``."""
    if split not in SPLITS:
        raise UserError(f"unknown split {split!r}; expected one of {SPLITS}")
    index = read_dataset(data)
    chosen = index.files_in(split)
    if not chosen:
        raise UserError(f"{data}: the {split!r} split has no clips (split.tsv); nothing to shift")
    return chosen, [f for f in index.filenames if index.split.get(f) != split]


def _rates(data: Path, names: list[str]) -> dict[str, int]:
    """Sample rate of each clip, from its header."""
    out = {}
    for name in names:
        path = data / "audio" / name
        try:
            out[name] = int(sf.info(str(path)).samplerate)
        except (sf.LibsndfileError, RuntimeError, ValueError) as err:
            raise ValueError(f"{path}: cannot read audio ({err})") from None
    return out


def _read_log(out: Path) -> dict[str, tuple[float, float]]:
    """``name -> (peak, gain)`` of the clips already transformed (a torn last line ignored)."""
    path = out / CLIP_LOG
    found = {}
    if path.is_file():
        for line in path.read_text().splitlines():
            fields = line.split("\t")
            if len(fields) == 3:
                try:
                    found[fields[0]] = (float(fields[1]), float(fields[2]))
                except ValueError:
                    continue
    return found


def _write_clip(out: Path, name: str, y: np.ndarray, sr: int, logged: dict[str, tuple[float, float]]) -> None:
    """Log the clip's peak and gain (unless ``logged`` has them), then write it (16-bit WAV) atomically,
    scaled only if it would clip."""
    peak = float(np.max(np.abs(y))) if len(y) else 0.0
    gain = PEAK / peak if peak > 1.0 else 1.0
    if logged.get(name) != (peak, gain):  # first: a clip on disk always has its line
        with (out / CLIP_LOG).open("a") as fh:
            fh.write(f"{name}\t{peak!r}\t{gain!r}\n")
    path = out / "audio" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path, suffix=".wav") as tmp:
        sf.write(str(tmp), np.clip(y * gain, -1.0, 1.0), sr, subtype="PCM_16", format="WAV")


def _link(src: Path, dst: Path) -> None:
    """``dst`` a symbolic link to the resolved ``src`` (kept when it already is one)."""
    if not src.is_file():
        raise FileNotFoundError(f"{src}: audio file not found")
    target = src.resolve()
    if dst.is_symlink() and Path(os.readlink(dst)) == target:
        return
    dst.parent.mkdir(parents=True, exist_ok=True)
    if dst.is_symlink() or dst.exists():
        dst.unlink()
    os.symlink(target, dst)


def _copy_labels(data: Path, out: Path) -> None:
    """The label files, byte for byte (only those that differ rewritten), ``weak.tsv`` last."""
    for name in LABEL_FILES:
        src, dst = data / name, out / name
        if src.is_file() and not (dst.is_file() and dst.read_bytes() == src.read_bytes()):
            write_bytes(dst, src.read_bytes())


def shift_split(
    data: Path, out: Path, transform: str, seed: int = 0, split: str = "test", params: Params | None = None
) -> Path:
    """A copy of the data set ``data`` in ``out`` whose ``split`` clips went through one device's channel.

    ``out`` gets the label files of ``data`` (byte for byte, ``weak.tsv`` last), ``split``'s clips
    transformed by ``make_channel(transform, seed, sr, params)`` (clip ``i`` of the split with index
    ``i``), the other clips as symbolic links to the originals, ``.mtlsed/made-by`` and ``shift.json``
    (the settings, the parameters drawn per sample rate, and the clips scaled to avoid clipping).
    Resumable: a clip already written is not written again. A folder holding another shift, or not made
    by shift, is refused (FileExistsError naming what differs).
    """
    check_transform(transform)
    data, out = Path(data).resolve(), Path(out).absolute()
    if out.resolve() == data:
        raise ValueError(f"{out}: the shifted copy cannot replace its source")
    chosen, others = _split_clips(data, split)
    rates = _rates(data, chosen)
    channels = {sr: make_channel(transform, seed, sr, params) for sr in sorted(set(rates.values()))}
    settings = {
        "transform": transform,
        "seed": int(seed),
        "split": split,
        "data": str(data),
        "labels": {name: _sha(data / name) for name in LABEL_FILES},
        "params": {str(sr): ch.params for sr, ch in channels.items()},
    }
    _claim(out, settings)
    for name in others:
        _link(data / "audio" / name, out / "audio" / name)
    logged = _read_log(out)
    for i, name in enumerate(chosen):
        path = out / "audio" / name
        if path.is_file() and not path.is_symlink():
            continue
        if path.is_symlink():
            path.unlink()
        y = load_audio(data / "audio" / name, rates[name])
        _write_clip(out, name, channels[rates[name]](y, i), rates[name], logged)
    _finish(out, settings, chosen)
    return out


def _finish(out: Path, settings: dict, chosen: list[str]) -> None:
    """Record the clips scaled to avoid clipping in ``shift.json``, then the label files."""
    logged = _read_log(out)
    normalised = {n: logged[n][1] for n in chosen if n in logged and logged[n][1] != 1.0}
    final = {**settings, "clips": len(chosen), "normalised": normalised}
    path = out / SETTINGS
    if not path.is_file() or json.loads(path.read_text()) != final:
        write_json(path, final)
    if normalised:  # said beside the scores too (evaluate.evaluate_shifted, tables.markdown_shifted)
        log.info(
            "%s: %d clip(s) would have clipped and were scaled to a peak of %s (listed in %s)",
            out, len(normalised), PEAK, path,
        )  # fmt: skip
    _copy_labels(Path(settings["data"]), out)


def scaled_clips(folder: Path) -> int:
    """How many clips of a shifted copy were scaled down to :data:`PEAK` because they would have clipped."""
    path = Path(folder) / SETTINGS
    return len(json.loads(path.read_text()).get("normalised", {})) if path.is_file() else 0


def shifted_sets(
    data: Path, transforms: list[str], seed: int = 0, split: str = "test", root: Path | None = None
) -> dict[str, Path]:
    """``transform -> folder`` of one shifted copy of ``data`` per transform, made once and reused.

    The copies lie under ``root`` (default ``data / "shifted"``) as ``TRANSFORM-seedS`` (with
    ``-SPLIT`` appended for a split other than test).
    """
    for name in transforms:
        check_transform(name)
    root = Path(root) if root is not None else Path(data) / "shifted"
    suffix = "" if split == "test" else f"-{split}"
    return {t: shift_split(data, root / f"{t}-seed{seed}{suffix}", t, seed, split) for t in transforms}
