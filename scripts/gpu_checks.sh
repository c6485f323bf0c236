#!/usr/bin/env bash
# GPU checks, run from the repository root on a CUDA machine; results go to $OUT (default gpu-checks/).
# The model templates against their upstream code on the GPU (scripts/check_templates.py, with AVSegFormer's
# MultiScaleDeformableAttention op compiled first), the GPU-marked tests, and models check of the bundled models.
# Needs: avsprobe's dependencies; upstream checkouts in .upstream/ (see scripts/check_templates.py).
set -uo pipefail
OUT=${OUT:-gpu-checks}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
nvidia-smi -L
python3 -m pip install -q --no-deps --no-build-isolation -e . >"$OUT/install.log" 2>&1 || { cat "$OUT/install.log"; exit 1; }
ops=.upstream/AVSegFormer/ops
if [ -d "$ops" ]; then
    # the op's source dispatches on Tensor.type(), which torch >= 2.x no longer converts to a ScalarType; the
    # one-word fix (scalar_type()) changes no arithmetic, and is applied to the copy here, not kept
    sed -i 's/AT_DISPATCH_FLOATING_TYPES(value.type()/AT_DISPATCH_FLOATING_TYPES(value.scalar_type()/' \
        "$ops"/src/cuda/ms_deform_attn_cuda.cu
    (cd "$ops" && TORCH_CUDA_ARCH_LIST=9.0 MAX_JOBS=16 timeout 300 python3 setup.py build_ext --inplace) \
        >"$OUT/avsegformer-ops-build.log" 2>&1 && echo "AVSegFormer ops built" || echo "AVSegFormer ops: build failed"
    export PYTHONPATH="$PWD/$ops${PYTHONPATH:+:$PYTHONPATH}"
fi
timeout 360 python3 scripts/check_templates.py --upstream .upstream --device cuda --out "$OUT"
python3 -m pytest -q -m gpu tests/audio/test_vggish.py tests/test_devices.py 2>&1 | tail -4
for m in vanilla ours; do avsprobe models check "$m" --device cuda 2>&1 | tail -14; done
