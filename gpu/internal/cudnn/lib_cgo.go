//go:build cgo

package cudnn

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// Prototypes as in cuDNN 9's cudnn_graph.h: handles, streams and backend
// descriptors are pointers, enums are ints, counts int64_t.
typedef size_t (*olc_ver_t)(void);
typedef void (*olc_lasterr_t)(char*, size_t);
typedef int (*olc_create_t)(void**);
typedef int (*olc_destroy_t)(void*);
typedef int (*olc_setstream_t)(void*, void*);
typedef int (*olc_bcreate_t)(int, void**);
typedef int (*olc_bdestroy_t)(void*);
typedef int (*olc_bfinal_t)(void*);
typedef int (*olc_bset_t)(void*, int, int, int64_t, const void*);
typedef int (*olc_bget_t)(void*, int, int, int64_t, int64_t*, void*);
typedef int (*olc_bexec_t)(void*, void*, void*);

typedef struct {
	void* lib;
	olc_ver_t ver;
	olc_lasterr_t lasterr;
	olc_create_t create;
	olc_destroy_t destroy;
	olc_setstream_t setstream;
	olc_bcreate_t bcreate;
	olc_bdestroy_t bdestroy;
	olc_bfinal_t bfinal;
	olc_bset_t bset;
	olc_bget_t bget;
	olc_bexec_t bexec;
} olc;

static void olc_preload(const char* path) { dlopen(path, RTLD_NOW | RTLD_GLOBAL); }

// olc_open loads path and resolves every symbol into *out; it returns NULL
// or a message (static storage).
static const char* olc_open(const char* path, olc* out) {
	static char msg[512];
	void* h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (h == NULL) {
		const char* e = dlerror();
		return e ? e : "dlopen failed";
	}
	struct { const char* name; void** dst; } syms[] = {
		{"cudnnGetVersion", (void**)&out->ver},
		{"cudnnGetLastErrorString", (void**)&out->lasterr},
		{"cudnnCreate", (void**)&out->create},
		{"cudnnDestroy", (void**)&out->destroy},
		{"cudnnSetStream", (void**)&out->setstream},
		{"cudnnBackendCreateDescriptor", (void**)&out->bcreate},
		{"cudnnBackendDestroyDescriptor", (void**)&out->bdestroy},
		{"cudnnBackendFinalize", (void**)&out->bfinal},
		{"cudnnBackendSetAttribute", (void**)&out->bset},
		{"cudnnBackendGetAttribute", (void**)&out->bget},
		{"cudnnBackendExecute", (void**)&out->bexec},
	};
	for (size_t i = 0; i < sizeof syms / sizeof syms[0]; i++) {
		*syms[i].dst = dlsym(h, syms[i].name);
		if (*syms[i].dst == NULL) {
			snprintf(msg, sizeof msg, "%s: symbol %s missing (cuDNN 9 has it)", path, syms[i].name);
			dlclose(h);
			return msg;
		}
	}
	out->lib = h;
	return NULL;
}

static size_t olc_version(olc* l) { return l->ver(); }
static void olc_lasterr(olc* l, char* buf, size_t n) { buf[0] = 0; l->lasterr(buf, n); buf[n - 1] = 0; }
static int olc_create(olc* l, uintptr_t* h) { void* p = NULL; int s = l->create(&p); *h = (uintptr_t)p; return s; }
static int olc_destroy(olc* l, uintptr_t h) { return l->destroy((void*)h); }
static int olc_setstream(olc* l, uintptr_t h, uintptr_t s) { return l->setstream((void*)h, (void*)s); }
// olc_bcreate returns the descriptor and the status by value: a Go variable
// whose address went to C would be moved to the heap on every call.
typedef struct { uintptr_t d; int s; } olc_made;
static olc_made olc_bcreate(olc* l, int t) { void* p = NULL; olc_made m; m.s = l->bcreate(t, &p); m.d = (uintptr_t)p; return m; }
static int olc_bdestroy(olc* l, uintptr_t d) { return l->bdestroy((void*)d); }
static int olc_bfinal(olc* l, uintptr_t d) { return l->bfinal((void*)d); }
static int olc_bset(olc* l, uintptr_t d, int name, int type, int64_t n, const void* v) {
	return l->bset((void*)d, name, type, n, v);
}
static int olc_bget(olc* l, uintptr_t d, int name, int type, int64_t n, int64_t* got, void* v) {
	return l->bget((void*)d, name, type, n, got, v);
}
static int olc_bexec(olc* l, uintptr_t h, uintptr_t plan, uintptr_t vp) {
	return l->bexec((void*)h, (void*)plan, (void*)vp);
}
*/
import "C"

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"unsafe"
)

// Lib is a loaded cuDNN.
type Lib struct {
	c       *C.olc
	Path    string // the candidate that loaded
	Version int    // cudnnGetVersion (9.10.2: 91002)
}

var (
	once    sync.Once
	opened  *Lib
	openErr error
)

// Open loads cuDNN once per process from the first candidate (Candidates)
// that loads, has every symbol and is at least MinVersion. The error lists
// every candidate tried and why it was passed over.
func Open() (*Lib, error) {
	once.Do(func() {
		cands := Candidates(os.Getenv(Env), filepath.Glob)
		if len(cands) == 0 {
			openErr = fmt.Errorf("cuDNN turned off (%s=%s)", Env, Off)
			return
		}
		var tried []string
		for _, c := range cands {
			l, err := Load(c)
			if err == nil {
				opened = l
				return
			}
			tried = append(tried, "  "+err.Error())
		}
		openErr = fmt.Errorf("no usable cuDNN 9 (set %s to a libcudnn.so.9); tried:\n%s", Env, strings.Join(tried, "\n"))
	})
	return opened, openErr
}

// Load loads the cuDNN at path (after its Preloads) and checks its version.
func Load(path string) (*Lib, error) {
	for _, p := range Preloads(path, filepath.Glob) {
		cp := C.CString(p)
		C.olc_preload(cp)
		C.free(unsafe.Pointer(cp))
	}
	l := &Lib{c: (*C.olc)(C.calloc(1, C.sizeof_olc)), Path: path}
	cp := C.CString(path)
	defer C.free(unsafe.Pointer(cp))
	if msg := C.olc_open(cp, l.c); msg != nil {
		C.free(unsafe.Pointer(l.c))
		return nil, fmt.Errorf("%s", C.GoString(msg))
	}
	l.Version = int(C.olc_version(l.c))
	if l.Version < MinVersion {
		return nil, fmt.Errorf("%s: cuDNN %s, olmolab needs %s or later", path, VersionString(l.Version), VersionString(MinVersion))
	}
	return l, nil
}

// VersionString is l's version as "9.10.2".
func (l *Lib) VersionString() string { return VersionString(l.Version) }

// String names the library for logs: "cuDNN 9.10.2 (path)".
func (l *Lib) String() string { return fmt.Sprintf("cuDNN %s (%s)", l.VersionString(), l.Path) }

// lastError is cuDNN's message for the last failed call on this thread.
func (l *Lib) lastError() string {
	buf := (*C.char)(C.malloc(1024))
	defer C.free(unsafe.Pointer(buf))
	C.olc_lasterr(l.c, buf, 1024)
	return strings.TrimSpace(C.GoString(buf))
}

func (l *Lib) check(call, what string, s C.int) error {
	if s == 0 {
		return nil
	}
	return &CallError{Call: call, What: what, Status: Status(s), Message: l.lastError()}
}

// NewHandle makes a handle whose work goes to stream (a CUstream; 0 is the
// legacy default stream, the engine's).
func (l *Lib) NewHandle(stream uintptr) (Handle, error) {
	var h C.uintptr_t
	if err := l.check("cudnnCreate", "", C.olc_create(l.c, &h)); err != nil {
		return 0, err
	}
	if err := l.check("cudnnSetStream", "", C.olc_setstream(l.c, h, C.uintptr_t(stream))); err != nil {
		C.olc_destroy(l.c, h)
		return 0, err
	}
	return Handle(h), nil
}

// DestroyHandle releases h.
func (l *Lib) DestroyHandle(h Handle) error {
	return l.check("cudnnDestroy", "", C.olc_destroy(l.c, C.uintptr_t(h)))
}

// The backend calls, for the graph builder (api).

func (l *Lib) create(typ int, what string) (uintptr, error) {
	m := C.olc_bcreate(l.c, C.int(typ))
	return uintptr(m.d), l.check("cudnnBackendCreateDescriptor", what, m.s)
}

func (l *Lib) destroy(d uintptr) { C.olc_bdestroy(l.c, C.uintptr_t(d)) }

func (l *Lib) set(d uintptr, what string, name, typ int, n int, v unsafe.Pointer) error {
	return l.check("cudnnBackendSetAttribute", what,
		C.olc_bset(l.c, C.uintptr_t(d), C.int(name), C.int(typ), C.int64_t(n), v))
}

func (l *Lib) get(d uintptr, what string, name, typ int, n int, v unsafe.Pointer) (int, error) {
	var got C.int64_t
	err := l.check("cudnnBackendGetAttribute", what,
		C.olc_bget(l.c, C.uintptr_t(d), C.int(name), C.int(typ), C.int64_t(n), &got, v))
	return int(got), err
}

func (l *Lib) finalize(d uintptr, what string) error {
	return l.check("cudnnBackendFinalize", what, C.olc_bfinal(l.c, C.uintptr_t(d)))
}

func (l *Lib) execute(h Handle, plan, vp uintptr, what string) error {
	return l.check("cudnnBackendExecute", what, C.olc_bexec(l.c, C.uintptr_t(h), C.uintptr_t(plan), C.uintptr_t(vp)))
}

// hostFloats copies vs into C memory that stays put (by-value scalars are
// read from host memory at each cudnnBackendExecute); freeHost releases it.
func (l *Lib) hostFloats(vs []float32) unsafe.Pointer {
	p := C.malloc(C.size_t(4 * len(vs)))
	copy(unsafe.Slice((*float32)(p), len(vs)), vs)
	return p
}

func (l *Lib) freeHost(p unsafe.Pointer) { C.free(p) }
