#!/usr/bin/env bash
# Set up .venv/, write a small synthetic metagenome (contigs, abundances, noisy labels, truth)
# and run stock Taxometer and `vamb taxometer --teacher default` on it, then score both.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
OUT=${1:-demo_out}
EPOCHS=${DEMO_EPOCHS:-30}
rm -rf "$OUT"
mkdir -p "$OUT"
V=.venv/bin
$V/taxometer-kd demo-data "$OUT/data" --size demo --seed 1
common=(--fasta "$OUT/data/contigs.fna" --abundance_tsv "$OUT/data/abundance.tsv"
        --taxonomy "$OUT/data/taxonomy.tsv" -pe "$EPOCHS" -p 2 --seed 1)
echo "demo: stock vamb taxometer ($EPOCHS epochs)"
$V/vamb taxometer --outdir "$OUT/stock" "${common[@]}" 2> "$OUT/stock.log"
echo "demo: vamb taxometer --teacher default --alpha 0.3 --temperature 4 ($EPOCHS epochs)"
$V/vamb taxometer --outdir "$OUT/kd" "${common[@]}" --teacher default --alpha 0.3 --temperature 4 2> "$OUT/kd.log"
$V/python -m taxometer_kd.evaluate --truth "$OUT/data/truth.tsv" \
    "initial labels=$OUT/data/taxonomy.tsv" "stock Taxometer=$OUT/stock/results_taxometer.tsv" \
    "taxometer-kd student=$OUT/kd/results_taxometer.tsv" "taxometer-kd teacher=$OUT/kd/results_teacher.tsv"
