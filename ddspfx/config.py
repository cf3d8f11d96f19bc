"""Typed training configuration: dataclasses, YAML files and dotted command-line overrides.

A run is described by one :class:`Config` (model, data, loss, optim, trainer sections). The
shipped YAML files (``ddspfx/configs/{default,debug,gpu,long}.yaml``) only list what differs from
the dataclass defaults; ``--model.d_model 256`` style overrides go on top. Unknown keys are
errors, so a typo never silently trains the wrong model.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Sequence, get_args, get_origin, get_type_hints

import yaml

from ddspfx.errors import DdspfxError

CONFIG_NAMES: tuple[str, ...] = ("default", "debug", "gpu", "long", "real", "dry")
EFFECT_SET_MODES: tuple[str, ...] = ("decoder", "presence")
ORDER_SEARCH_MODES: tuple[str, ...] = ("exhaustive", "beam")
KNOB_READOUTS: tuple[str, ...] = ("head", "bins")
THRESHOLD_OBJECTIVES: tuple[str, ...] = ("accuracy", "f1", "micro_f1")  # what ddspfx.thresholds.best_thresholds maximises

# Seed ranges of the splits (example i of a split is generated from ``example_seed(base, i)``), disjoint so
# that no clip is shared: training from 0, validation from 10_000_000 (``ddspfx.datamodule``), held-out
# evaluation from 20_000_000 (``ddspfx.evaluate`` and the experiments).
TRAIN_SEED = 0
VAL_SEED = 10_000_000
TEST_SEED_BASE = 20_000_000


@dataclass
class FrontEndConfig:
    name: str = "mel"  # "mel" (weight-free, embedded), "relation" (dry-aware: only how the wet differs from the dry,
    # ddspfx.frontends.relation) or "dac" (needs ddspfx[dac])
    n_fft: int = 2048  # STFT size in samples (46 ms at 44.1 kHz: resolves a guitar's low partials)
    hop: int = 512  # frame hop in samples (11.6 ms: fine enough for echo onsets and compressor attacks)
    n_mels: int = 80  # mel bands
    f_min: float = 30.0  # lowest mel band edge (Hz)
    f_max: float = 16000.0  # highest mel band edge (Hz)
    stack: int = 1  # consecutive tokens concatenated per encoder position (2 halves the sequence length)
    conv_channels: int = 16  # >0: CNN stem (4 conv-BN-ReLU-pool blocks, c..8c channels) before the projection;
    # 0: each stacked mel frame projected by an MLP (front-end ablation: -0.06 presence µF1 at equal steps)
    conv_time_pool: int = 4  # time downsampling of the CNN stem (1, 2, 4, 8 or 16 frames per token)
    paired: bool = False  # dry-aware (mel only): hears the clip's dry too; tokens from wet, dry and their difference
    relation_smooth: int = 7  # relation only: frames (odd) over which the wet-dry coherence is averaged (81 ms)
    relation_floor_db: float = -40.0  # relation only: power floor under each track's mean band power (silent bands)
    # the dac front end only (pip install 'ddspfx[dac]'); ignored by mel:
    dac_weights: str = ""  # DAC weights file; "" = DAC's cache (~/.cache/descript/dac) or its downloader
    dac_model_type: str = "44khz"  # 44khz | 24khz | 16khz
    dac_n_codebooks: int = 0  # codebooks embedded (0 = all of the codec's)
    dac_combine: str = "sum"  # per-codebook embeddings: "sum" or "concat" then project
    dac_latents: bool = False  # use DAC's continuous latents z instead of codes
    dac_weights_sha256: str = ""  # filled in from the weights when a model is saved; checked at load


@dataclass
class ModelConfig:
    d_model: int = 128  # transformer width
    n_heads: int = 4  # attention heads (d_model must divide by it)
    enc_layers: int = 4  # encoder depth
    dec_layers: int = 3  # token decoder depth
    head_layers: int = 1  # cross-attention blocks in the slot/effect query heads
    ff_mult: int = 4  # feed-forward width = ff_mult * d_model
    dropout: float = 0.0  # dropout in attention and feed-forward (0: every clip is fresh, nothing to overfit)
    max_tokens: int = 64  # longest token sequence the decoder positions cover
    max_frames: int = 1024  # longest front-end sequence the encoder positions cover
    sinkhorn_tau: float = 1.0  # temperature of the soft permutation
    sinkhorn_iters: int = 20  # Sinkhorn normalisation steps
    max_effects: int = 5  # longest chain the grammar lets the decoder produce
    effect_set: str = "presence"  # inference: who picks the effects -- "presence" head (the search orders them) or "decoder"
    order_search: str = "exhaustive"  # inference: "exhaustive" scores every order of the found effects, "beam" keeps the beam's
    order_slot_weight: float = 1.0  # exhaustive order search: weight of the switching-matrix head beside the decoder
    knob_readout: str = "head"  # inference: knob values from the parameter "head", or the median of the decoder's
    # "bins" distribution for each knob of the answer (experiments/knob_readout)
    effects: str = ""  # comma-separated canonical pedal names the model knows, in head order; "" = every catalog
    # effect (resolved and written out when the model is built, so a checkpoint records its own list)
    input_level: bool = False  # scale each clip to TARGET_DBFS RMS before the front end, so a recording's level
    # cannot change the answer; False only in models trained before it existed (their sidecars lack the key)
    frontend: FrontEndConfig = field(default_factory=FrontEndConfig)


@dataclass
class DataConfig:
    source: str = "synth"  # dry source spec: synth | modal | mix:synth=0.7,modal=0.3 | folder:PATH | egfxset:PATH | idmt:PATH | sf2:BANK
    duration_s: float = 2.0  # clip length in seconds
    train_size: int = 1_000_000  # examples addressable by the train seed range (generated on the fly)
    val_size: int = 256  # fixed validation examples
    batch_size: int = 32  # clips per optimisation step
    num_workers: int = 1  # data-loader processes (rendering is CPU-bound)
    max_effects: int = 5  # sampler: at most this many effects per chain
    min_effects: int = 0  # sampler: at least this many effects per chain
    order: str = "uniform"  # sampler: "uniform" over permutations or "typical" pedalboard prior
    effects: str = ""  # sampler: comma-separated pedal types drawn; "" = every catalog effect
    effect_weights: str = ""  # sampler: relative draw weights, e.g. "eq=2,distortion=2" (others 1); "" = all equal
    whole_ranges: bool = False  # sampler: knobs drawn over their whole range, not only the audible sub-range
    drop_inaudible: bool = False  # sampler: a pedal ddspfx.audibility does not hear on the clip is left out (and unlabelled)
    render_variants: float = 0.0  # training only: chance that a pedal is rendered by another design (ddspfx.variants)
    dry_tone: float = 0.0  # training only: chance that the dry clip goes through a random tone stage (ddspfx.sources.tone)
    noise_floor: float = 0.0  # training only: chance that the dry clip carries a recording's hum and hiss (ddspfx.sources.tone)
    room: float = 0.0  # training only: chance that the dry clip is heard in a little room (ddspfx.sources.tone.random_room)
    recording: float = 0.0  # training only: chance that the wet clip gets a recording's own character after the pedals (ddspfx.recording)
    pair_guitars: bool = False  # training only: each clip's chain also played by a second guitar (for loss.invariance)
    plugin_render: float = 0.0  # training only: chance that a pedal is rendered by a third-party LADSPA plugin (ddspfx.plugins)
    plugin_exclude: str = ""  # comma-separated plugin names or families never drawn (held out), e.g. "lsp,mcp/phaser"
    train_folder: str = ""  # materialised training set (python -m ddspfx.data make); "" = generate on the fly
    val_folder: str = ""  # materialised validation set; "" = generate from the validation seed range


@dataclass
class LossConfig:
    ce: float = 1.0  # token cross-entropy weight
    label_smoothing: float = 0.05  # CE label smoothing
    ce_choice_weight: float = 1.0  # CE weight of tokens that pick the next effect or end the chain (params: 1)
    presence: float = 0.5  # presence-gate BCE weight
    perm: float = 0.5  # NLL of the target permutation under the Sinkhorn matrix
    params: float = 1.0  # L1 on normalised params of present effects
    stft: float = 0.0  # MR-STFT between proxy chain and wet (0 = off; costly on CPU)
    stft_warmup_steps: int = 2000  # steps of CE/heads only before the STFT term starts
    stft_ramp_steps: int = 1000  # steps over which the STFT weight ramps from 0 to `stft`
    stft_every: int = 1  # the STFT term on every k-th step after warm-up only (it doubles a CPU step's cost)
    stft_crop_s: float = 0.5  # STFT term on a random sub-crop of this many seconds
    stft_preroll_s: float = 0.25  # dry audio fed before the crop so delay/reverb tails are present
    stft_batch: int = 4  # STFT term on at most this many clips of the batch
    stft_teacher_perm: bool = False  # drive the proxy chain with the target order (only learn params)
    stft_gate_grad: bool = False  # let the STFT term train the presence gates (measured: it switches them all off)
    invariance: float = 0.0  # weight of the difference between the answers for one chain on two guitars (data.pair_guitars)
    stft_grad_clip: float = 0.5  # max gradient norm the STFT term sends into each head output (0 = unclipped)
    adversary: float = 0.0  # weight of the guitar-identity adversary (ddspfx.adversary); 0 = no adversary head
    adversary_classes: int = 64  # identity buckets of (mix part, procedural guitar id) the adversary tells apart
    grl_scale: float = 1.0  # gradient reversal: the encoder gets -grl_scale x the adversary's gradient


@dataclass
class OptimConfig:
    lr: float = 5e-4  # AdamW peak learning rate
    weight_decay: float = 0.01  # AdamW weight decay
    warmup_steps: int = 300  # linear LR warm-up
    min_lr_ratio: float = 0.05  # cosine decay floor as a fraction of lr
    grad_clip: float = 1.0  # gradient-norm clip


@dataclass
class TrainerConfig:
    max_steps: int = 6000  # optimisation steps
    max_time_min: float = 28.0  # wall-clock stop (minutes; 0 = none) so the CPU default fits 30 min
    val_every: int = 500  # validation interval in steps
    limit_val_batches: int = 8  # validation batches per check
    log_every: int = 25  # scalar logging interval in steps
    log_audio: bool = True  # write wet vs reconstruction audio and spectrograms to TensorBoard
    accelerator: str = "cpu"  # Lightning accelerator: cpu | gpu | auto
    devices: Any = 1  # Lightning devices (int, list or "auto")
    strategy: str = "auto"  # Lightning strategy (e.g. "ddp")
    precision: str = "32-true"  # Lightning precision (e.g. "bf16-mixed" on GPU)
    seed: int = 0  # global seed (weights, crops, shuffling)
    threads: int = 1  # torch CPU threads (1 leaves a core to the data worker on a 2-core machine)
    beam: int = 4  # beam width for validation chain accuracy (1 = greedy)
    init_from: str = ""  # start from these weights ("default" = the shipped model, or a model.safetensors / run folder)


@dataclass
class Config:
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _build(cls: type, data: dict[str, Any], where: str) -> Any:
    """Instantiate dataclass ``cls`` from a (possibly partial) dict, recursing into sections."""
    if not isinstance(data, dict):
        raise DdspfxError(f"config section {where or 'root'} must be a mapping, got {type(data).__name__}")
    hints = get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise DdspfxError(f"unknown config key {where + '.' if where else ''}{unknown[0]}; valid keys here: {', '.join(sorted(names))}")
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.name not in data:
            continue
        key = f"{where}.{f.name}" if where else f.name
        typ = hints[f.name]
        if dataclasses.is_dataclass(typ):
            kwargs[f.name] = _build(typ, data[f.name], key)  # type: ignore[arg-type]
        else:
            kwargs[f.name] = _coerce(data[f.name], typ, key)
    return cls(**kwargs)


def _coerce(value: Any, typ: Any, key: str) -> Any:
    """Check/convert a scalar to the field type; strings from the command line are parsed as YAML."""
    if typ is Any:
        return value
    if isinstance(value, str) and typ is not str:
        value = yaml.safe_load(value)
    if get_origin(typ) is not None:
        typ = get_args(typ)[0]
    try:
        if typ is bool:
            if isinstance(value, bool):
                return value
            raise TypeError
        if typ is int and isinstance(value, float) and not value.is_integer():
            raise TypeError
        return typ(value)
    except (TypeError, ValueError):
        raise DdspfxError(f"config key {key} must be {getattr(typ, '__name__', typ)}, got {value!r}") from None


def _set_dotted(data: dict[str, Any], dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    node = data
    for p in parts[:-1]:
        node = node.setdefault(p, {})
        if not isinstance(node, dict):
            raise DdspfxError(f"config override {dotted}: {p} is not a section")
    node[parts[-1]] = value


def _merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in top.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def read_yaml(name_or_path: str) -> dict[str, Any]:
    """A shipped config by name (default/debug/gpu/long) or a YAML file path -> raw dict."""
    if name_or_path in CONFIG_NAMES:
        text = resources.files("ddspfx.configs").joinpath(f"{name_or_path}.yaml").read_text()
    else:
        path = Path(name_or_path)
        if not path.is_file():
            raise DdspfxError(f"config {name_or_path!r} is neither a shipped config ({', '.join(CONFIG_NAMES)}) nor a YAML file")
        text = path.read_text()
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise DdspfxError(f"config {name_or_path}: invalid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise DdspfxError(f"config {name_or_path}: top level must be a mapping")
    base = data.pop("base", None)
    if base is not None:
        data = _merge(read_yaml(str(base)), data)
    return data


def parse_overrides(args: Sequence[str]) -> dict[str, Any]:
    """``["--model.d_model", "256", "--loss.stft=1"]`` -> nested dict of raw (string) values."""
    out: dict[str, Any] = {}
    i = 0
    args = list(args)
    while i < len(args):
        a = args[i]
        if not a.startswith("--") or len(a) <= 2:
            raise DdspfxError(f"unexpected argument {a!r}; overrides look like --section.key VALUE")
        if "=" in a:
            key, value = a[2:].split("=", 1)
            i += 1
        else:
            if i + 1 >= len(args):
                raise DdspfxError(f"override {a} needs a value")
            key, value = a[2:], args[i + 1]
            i += 2
        if "." not in key:
            raise DdspfxError(f"override --{key}: use --section.key (sections: model, data, loss, optim, trainer)")
        _set_dotted(out, key, value)
    return out


def load_config(name_or_path: str = "default", overrides: Sequence[str] | dict[str, Any] = ()) -> Config:
    """Build a :class:`Config` from a shipped name or YAML path plus dotted overrides."""
    data = read_yaml(name_or_path)
    extra = overrides if isinstance(overrides, dict) else parse_overrides(overrides)
    return _build(Config, _merge(data, extra), "")


def config_from_dict(data: dict[str, Any]) -> Config:
    """Rebuild a :class:`Config` from :meth:`Config.to_dict` output (e.g. from a checkpoint)."""
    return _build(Config, data, "")


def model_config_from_dict(data: dict[str, Any]) -> ModelConfig:
    return _build(ModelConfig, data, "model")


DEFAULT_BUDGET_S = 15.0
""":func:`ddspfx.refine.refine`'s time limit unless told otherwise (wall seconds on one thread, the whole search).
Issue 20 asks for <= 20 s per 3-s clip on one core; the estimate, the line-up and the last renders take well under a second, and a fit
stops within one descent step or one batch of grid trials after the limit (``tests/test_refine_steps.py``: a 0.5-s limit
took under 1 s where the whole grid search took 6.4), so 15 s keeps the slowest clip inside the 20. Unlimited,
the estimate's own five candidates took 15-28 CPU-s on average and up to 49 on the slowest clip (development and test
seeds, ``experiments/results/refine_speed/``, ``release_d2/``); with the limit a clip that is done sooner spends what is
left on other orders and subsets (:func:`ddspfx.refine.extra_candidates`). On 30 development clips (``experiments/results/
refine_budget/``, rule written before): slowest 16.7 CPU-s (unlimited 48.9), µF1 0.927 (0.921), median re-render
SI-SDR -2.9 dB (-4.0), none farther from the clip than its dry (measured when a fit's grid search still ran whole and
its descent stopped only at the monitor's checks, every ``ddspfx.refine.MONITOR_EVERY`` steps: a little past the limit)."""


DEFAULT_DRY_RECOVERY = Path(__file__).resolve().parent / "checkpoints" / "dry_recovery.safetensors"
"""The shipped dry-recovery network (absent until one is trained; ``recover_dry`` then says so). Defined here, in a
module that does not import torch, so the command line can say a missing network before torch loads."""
