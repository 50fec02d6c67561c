"""The GenomeOcean model catalogue (sizes, hub ids, context) and the teachers' options."""

from __future__ import annotations

from dataclasses import dataclass

from taxometer_kd import TeacherOption, parse_widths

INSTALL_HINT = "pip install 'taxometer-kd[genomeocean]'"


@dataclass(frozen=True)
class GenomeOceanModel:
    name: str
    repo_id: str
    legacy_repo_id: str
    context: int
    hidden_size: int
    aliases: tuple[str, ...]
    description: str


MODELS: dict[str, GenomeOceanModel] = {
    m.name: m
    for m in (
        GenomeOceanModel(
            "genomeocean-100m",
            "pGenomeOcean/GenomeOcean-100M",
            "DOEJGI/GenomeOcean-100M",
            1024,
            768,
            ("go-100m",),
            "GenomeOcean-100M (hidden 768, 1024-token windows)",
        ),
        GenomeOceanModel(
            "genomeocean-500m",
            "pGenomeOcean/GenomeOcean-500M",
            "DOEJGI/GenomeOcean-500M",
            1024,
            1536,
            ("go-500m",),
            "GenomeOcean-500M (hidden 1536, 1024-token windows; the paper's teacher)",
        ),
        GenomeOceanModel(
            "genomeocean-4b",
            "pGenomeOcean/GenomeOcean-4B",
            "DOEJGI/GenomeOcean-4B",
            10240,
            3072,
            ("go-4b",),
            "GenomeOcean-4B (hidden 3072, 10240-token windows)",
        ),
    )
}


def _import_transformers():
    try:
        import tokenizers  # noqa: F401
        import transformers
    except ImportError as exc:
        raise ImportError(
            f"the GenomeOcean teachers need transformers and tokenizers, which are not installed "
            f"({exc}). Install them with: {INSTALL_HINT}"
        ) from None
    return transformers


# --------------------------------------------------------------------------- options
def _positive_int(value: str) -> int:
    v = int(value)
    if v <= 0:
        raise ValueError("must be a positive integer")
    return v


def _optional_str(value: str) -> str | None:
    value = value.strip()
    return value or None


def teacher_options(model: GenomeOceanModel) -> tuple[TeacherOption, ...]:
    return (
        TeacherOption(
            "path",
            _optional_str,
            None,
            "local directory with the checkpoint (config.json, *.safetensors, tokenizer.json); "
            f"overrides the hub id {model.repo_id}",
        ),
        TeacherOption("revision", _optional_str, None, "hub revision (branch, tag or commit); default main"),
        TeacherOption(
            "layer",
            int,
            -1,
            "hidden layer to pool: -1 = last (after the final norm), 0 = token embeddings, k = output of block k",
        ),
        TeacherOption("pooling", str, "mean", "pooling over a window's sequence tokens", ("mean", "max")),
        TeacherOption(
            "max-tokens",
            _positive_int,
            None,
            f"tokens per window including [CLS]/[SEP]; default the model context ({model.context})",
        ),
        TeacherOption(
            "batch-tokens",
            _positive_int,
            None,
            "token budget per batch (batch size x padded length); default 65536 on CUDA, 8192 on CPU",
        ),
        TeacherOption(
            "dtype",
            str,
            "auto",
            "model precision; auto = bfloat16 on a CUDA GPU with native bf16 (not V100/T4), else float32",
            ("auto", "float32", "bfloat16"),
        ),
        TeacherOption("head-lr", float, 1e-4, "learning rate of the teacher head (the paper: 1e-4)"),
        TeacherOption(
            "hidden",
            parse_widths,
            (512, 512),
            "hidden layer widths of the head, comma-separated (e.g. 512,512; 0 = linear head)",
        ),
        TeacherOption(
            "folds", _positive_int, 1, "cross-fitted heads (as the weight-free teachers); 1 = the paper's single head"
        ),
    )
