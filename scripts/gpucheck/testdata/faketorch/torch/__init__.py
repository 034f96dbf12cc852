"""A stand-in for torch with no GPU: importing works, any use fails
(gpucheck_test.go's TestTorchBenchFails)."""


class _Any:
    def __getattr__(self, name):
        return _Any()

    def __setattr__(self, name, value):
        pass

    def __call__(self, *args, **kwargs):
        raise RuntimeError("stand-in torch: no GPU")


class _Cuda(_Any):
    def empty_cache(self):
        pass


backends = _Any()
cuda = _Cuda()


def __getattr__(name):
    return _Any()
