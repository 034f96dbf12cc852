//go:build cuda

package gpu

import (
	"errors"
	"fmt"

	"gorgonia.org/cu"

	"github.com/olmolab/olmolab/gpu/internal/cudnn"
)

// cudaDevice offers cuDNN's fused attention (fusedAttnDevice): the library
// is dlopen'd on first use (internal/cudnn's search order), one handle per
// device on the legacy default stream, so cuDNN's kernels run in issue order
// with the engine's launches and cuBLAS's products.

func (d *cudaDevice) fusedAttnLib() (string, error) {
	l, err := cudnn.Open()
	if err != nil {
		return "", err
	}
	return l.String(), nil
}

func (d *cudaDevice) newFusedAttn(s fusedAttnShape, ws func(bytes int64) (dptr, error)) (fusedAttn, error) {
	l, err := cudnn.Open()
	if err != nil {
		return nil, err
	}
	if d.dnn == 0 { // inside enter: the context is current
		if d.dnn, err = l.NewHandle(0); err != nil {
			return nil, err
		}
	}
	a, err := cudnn.NewSDPA(l, d.dnn, sdpaShape(s))
	if err != nil {
		return nil, err
	}
	p, err := ws(a.Workspace())
	if err != nil {
		a.Close()
		return nil, err
	}
	return &cudnnAttn{d: d, a: a, ws: p, lib: l.String()}, nil
}

func sdpaShape(s fusedAttnShape) cudnn.SDPAShape {
	return cudnn.SDPAShape{B: s.B, T: s.T, NH: s.NH, NKV: s.NKV, HS: s.HS,
		LdQ: s.ldq, LdK: s.ldk, LdV: s.ldv, LdO: s.ldo, LdDQ: s.ldgrads, LdDK: s.ldgrads, LdDV: s.ldgrads,
		Scale: float32(s.scale), ForwardOnly: s.fwdOnly}
}

// fusedRefusesRows: the refusals of cudnn.Refuses that are of the rows
// (*cudnn.RowsError); the others are newFusedAttn's to report.
func (d *cudaDevice) fusedRefusesRows(s fusedAttnShape) error {
	l, err := cudnn.Open()
	if err != nil {
		return nil
	}
	var re *cudnn.RowsError
	if err := cudnn.Refuses(l.VersionString(), sdpaShape(s)); errors.As(err, &re) {
		return err
	}
	return nil
}

// cudnnAttn is one shape's cuDNN attention on the device.
type cudnnAttn struct {
	d   *cudaDevice
	a   *cudnn.SDPA
	ws  dptr
	lib string
}

func (c *cudnnAttn) fwd(o, lse, q, k, v dptr) error {
	return c.synced(c.a.Forward(cudnn.FwdPtrs{Q: uintptr(q), K: uintptr(k), V: uintptr(v), O: uintptr(o), Stats: uintptr(lse)},
		uintptr(c.ws)))
}

func (c *cudnnAttn) bwd(dq, dk, dv, D, dout, o, lse, q, k, v dptr) error {
	return c.synced(c.a.Backward(cudnn.BwdPtrs{Q: uintptr(q), K: uintptr(k), V: uintptr(v), O: uintptr(o), Stats: uintptr(lse),
		DO: uintptr(dout), D: uintptr(D), DQ: uintptr(dq), DK: uintptr(dk), DV: uintptr(dv)}, uintptr(c.ws)))
}

// synced synchronises after the call under OLMOLAB_GPU_SYNC=1, as launch
// does, so that a fault is charged to cuDNN.
func (c *cudnnAttn) synced(err error) error {
	if err == nil && c.d.syncEach {
		if serr := cu.Synchronize(); serr != nil {
			return fmt.Errorf("after the cuDNN call: %w", serr)
		}
	}
	return err
}

func (c *cudnnAttn) describe() string {
	return fmt.Sprintf("%s, %s: %s", c.lib, c.a.Shape, c.a.Describe())
}

func (c *cudnnAttn) close() { c.a.Close() }
