#!/usr/bin/env bash
# Prepare a Debian 12 machine to build olmolab's CUDA engine (gpu/, build tag
# cuda), then build the binary into .device/bin/olmolab (git-ignored).
#
#   scripts/setup-cuda.sh            # light: libcuda1 + cuda.h (enough to build; PTX is committed)
#   scripts/setup-cuda.sh --toolkit  # also nvcc 11.8 + g++-11, to regenerate the PTX (go generate ./gpu/kernels)
#   scripts/setup-cuda.sh --no-build # only install
#
# Recipe and measurements: ../shared/docs/gpu-build.md §1 and §6. No GPU is needed
# here: the binary links against libcuda.so and loads cuBLAS with dlopen at run
# time, so its only needs on the GPU machine are libcuda.so.1 (the driver) and a
# libcublas.so.{13,12,11} (set OLMOLAB_CUBLAS when the search misses it).
set -euo pipefail
cd "$(dirname "$0")/.."

toolkit=0 build=1
for a in "$@"; do
  case "$a" in
    --toolkit) toolkit=1 ;;
    --no-build) build=0 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "setup-cuda.sh: unknown argument $a" >&2; exit 2 ;;
  esac
done

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
export DEBIAN_FRONTEND=noninteractive

# enable_nonfree adds Debian's contrib and non-free components (NVIDIA's packages
# live there), copying the mirror URI from the base sources file. Idempotent.
enable_nonfree() {
  # (apt-cache show succeeds for a merely known name; madison lists only real candidates)
  if [ -n "$(apt-cache madison nvidia-cuda-dev 2>/dev/null)" ]; then return 0; fi
  local uri
  uri=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources)
  printf 'Types: deb\nURIs: %s\nSuites: bookworm\nComponents: contrib non-free\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
    "$uri" | $SUDO tee /etc/apt/sources.list.d/olmolab-nonfree.sources >/dev/null
  $SUDO apt-get update -qq
}

CUDA_INC=/opt/olmolab-cuda/usr/include
enable_nonfree
$SUDO apt-get install -y -qq --no-install-recommends libcuda1 >/dev/null
if [ "$toolkit" = 1 ]; then
  # nvcc 11.8 needs a gcc ≤ 11 host compiler; the toolkit does not always pull one (gpu-build.md §1).
  $SUDO apt-get install -y -qq --no-install-recommends nvidia-cuda-toolkit g++-11 >/dev/null
fi
if [ -s /usr/include/cuda.h ]; then
  CUDA_INC=/usr/include
elif [ ! -s "$CUDA_INC/cuda.h" ]; then
  # Only cuda.h is needed to compile gorgonia.org/cu and our cgo: take it out of
  # the dev package without installing its 5 GB.
  d=$(mktemp -d); chmod 777 "$d"
  (cd "$d" && apt-get download -qq nvidia-cuda-dev)
  $SUDO mkdir -p /opt/olmolab-cuda
  dpkg-deb --fsys-tarfile "$d"/nvidia-cuda-dev_*.deb | $SUDO tar -x --occurrence=1 -C /opt/olmolab-cuda ./usr/include/cuda.h || true
  rm -rf "$d"
  test -s "$CUDA_INC/cuda.h"
fi
echo "cuda.h: $CUDA_INC/cuda.h"

if [ "$build" = 1 ]; then
  CGO_ENABLED=1 CGO_CFLAGS="-I$CUDA_INC" scripts/gpu-build.sh
fi
