// fakecudnn.c: a stand-in libcudnn.so.9 for the shim's tests (cudnn_test.go
// compiles it with the system C compiler). It implements the calls the shim
// resolves, accepts every descriptor, and appends one line per call to the
// file named by FAKE_CUDNN_LOG:
//
//	create #ID TYPE
//	set #ID NAME TYPE COUNT: V1 V2 …   (descriptors as #ID, pointers in hex)
//	finalize #ID
//	execute plan=#ID vp=#ID
//	bind UID PTR [= VALUE]             (per variant-pack entry; the value of by-value tensors)
//
// Behaviour from the environment: FAKE_CUDNN_VERSION (cudnnGetVersion,
// default 91002), FAKE_CUDNN_CONFIGS (engine configs the heuristics return,
// default 2), FAKE_CUDNN_REFUSE_PLANS (that many execution plans fail to
// finalize first), FAKE_CUDNN_WS (plan workspace, default 1048576),
// FAKE_CUDNN_FAIL_FINALIZE=TYPE (finalizing a descriptor of that type fails
// with NOT_SUPPORTED_GRAPH_PATTERN and a message for cudnnGetLastErrorString),
// FAKE_CUDNN_NONDET (the first that many configs' engines carry the
// NONDETERMINISTIC numerical note). Config i's engine has global index 7+i.
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  int id, type, byvalue, dtype, idx;
  int64_t uid;
  int64_t n;
  int64_t uids[64];
  void* ptrs[64];
} desc;

static int next_id = 1;
static int plans_refused = 0;
static char lasterr[256];
static desc* descs[1 << 16];

static void lg(const char* fmt, ...) {
  const char* path = getenv("FAKE_CUDNN_LOG");
  if (!path) return;
  FILE* f = fopen(path, "a");
  if (!f) return;
  va_list ap;
  va_start(ap, fmt);
  vfprintf(f, fmt, ap);
  va_end(ap);
  fclose(f);
}

static long envl(const char* name, long def) {
  const char* v = getenv(name);
  return v && *v ? atol(v) : def;
}

size_t cudnnGetVersion(void) { return (size_t)envl("FAKE_CUDNN_VERSION", 91002); }

void cudnnGetLastErrorString(char* msg, size_t n) {
  snprintf(msg, n, "%s", lasterr);
  lasterr[0] = 0;
}

int cudnnCreate(void** h) {
  *h = (void*)0x4a11d1e;
  lg("create_handle\n");
  return 0;
}

int cudnnDestroy(void* h) { return 0; }

int cudnnSetStream(void* h, void* s) {
  lg("set_stream %p\n", s);
  return 0;
}

int cudnnBackendCreateDescriptor(int type, void** out) {
  desc* d = calloc(1, sizeof *d);
  d->id = next_id++;
  d->type = type;
  descs[d->id] = d;
  *out = d;
  lg("create #%d %d\n", d->id, type);
  return 0;
}

int cudnnBackendDestroyDescriptor(void* p) {
  lg("destroy #%d\n", ((desc*)p)->id);
  return 0;
}

int cudnnBackendSetAttribute(void* p, int name, int type, int64_t n, const void* v) {
  desc* d = p;
  char line[8192];
  int o = snprintf(line, sizeof line, "set #%d %d %d %lld:", d->id, name, type, (long long)n);
  for (int64_t i = 0; i < n && o < (int)sizeof line - 64; i++) {
    switch (type) {
      case 0: o += snprintf(line + o, sizeof line - o, " h"); break;
      case 2: o += snprintf(line + o, sizeof line - o, " %d", ((const bool*)v)[i]); break;
      case 3: o += snprintf(line + o, sizeof line - o, " %lld", (long long)((const int64_t*)v)[i]); break;
      case 4: o += snprintf(line + o, sizeof line - o, " %g", ((const float*)v)[i]); break;
      case 6: o += snprintf(line + o, sizeof line - o, " 0x%llx", (unsigned long long)((void* const*)v)[i]); break;
      case 15: o += snprintf(line + o, sizeof line - o, " #%d", ((desc* const*)v)[i]->id); break;
      default: o += snprintf(line + o, sizeof line - o, " %d", ((const int32_t*)v)[i]); break;
    }
  }
  lg("%s\n", line);
  if (name == 906) d->uid = *(const int64_t*)v;
  if (name == 908) d->byvalue = *(const bool*)v;
  if (name == 901) d->dtype = *(const int32_t*)v;
  if (name == 1000) {
    d->n = n > 64 ? 64 : n;
    memcpy(d->uids, v, d->n * sizeof(int64_t));
  }
  if (name == 1001) memcpy(d->ptrs, v, (n > 64 ? 64 : n) * sizeof(void*));
  return 0;
}

int cudnnBackendFinalize(void* p) {
  desc* d = p;
  lg("finalize #%d\n", d->id);
  if (envl("FAKE_CUDNN_FAIL_FINALIZE", -1) == d->type) {
    snprintf(lasterr, sizeof lasterr, "fake: no engine for this graph pattern (descriptor type %d)", d->type);
    return 3001;
  }
  if (d->type == 5 && plans_refused < envl("FAKE_CUDNN_REFUSE_PLANS", 0)) {
    plans_refused++;
    snprintf(lasterr, sizeof lasterr, "fake: config refused");
    return 3000;
  }
  return 0;
}

int cudnnBackendGetAttribute(void* p, int name, int type, int64_t req, int64_t* count, void* v) {
  desc* d = p;
  lg("get #%d %d %d %lld\n", d->id, name, type, (long long)req);
  switch (name) {
    case 202: {  // ENGINEHEUR_RESULTS
      int64_t n = envl("FAKE_CUDNN_CONFIGS", 2);
      *count = req == 0 ? n : (req < n ? req : n);
      for (int64_t i = 0; i < req && i < n; i++) ((desc**)v)[i]->idx = (int)i;  // config i's engine is 7+i
      return 0;
    }
    case 402:  // EXECUTION_PLAN_WORKSPACE_SIZE
      *(int64_t*)v = envl("FAKE_CUDNN_WS", 1048576);
      *count = 1;
      return 0;
    case 300:  // ENGINECFG_ENGINE
      (*(desc**)v)->idx = d->idx;
      *count = 1;
      return 0;
    case 1301:  // ENGINE_GLOBAL_INDEX
      *(int64_t*)v = 7 + d->idx;
      *count = 1;
      return 0;
    case 1303:  // ENGINE_NUMERICAL_NOTE: TENSOR_CORE, and NONDETERMINISTIC for the first FAKE_CUDNN_NONDET engines
      ((int32_t*)v)[0] = 0;
      *count = 1;
      if (d->idx < envl("FAKE_CUDNN_NONDET", 0) && req > 1) {
        ((int32_t*)v)[1] = 4;
        *count = 2;
      }
      return 0;
  }
  snprintf(lasterr, sizeof lasterr, "fake: attribute %d not gettable", name);
  return 2000;
}

int cudnnBackendExecute(void* h, void* plan, void* vp) {
  desc* pl = plan;
  desc* pack = vp;
  lg("execute plan=#%d vp=#%d\n", pl->id, pack->id);
  for (int64_t i = 0; i < pack->n; i++) {
    desc* t = NULL;
    for (int k = 1; k < next_id; k++)
      if (descs[k] && descs[k]->type == 17 && descs[k]->uid == pack->uids[i] && descs[k]->byvalue) t = descs[k];
    if (t)
      lg("bind %lld 0x%llx = %g\n", (long long)pack->uids[i], (unsigned long long)pack->ptrs[i], *(float*)pack->ptrs[i]);
    else
      lg("bind %lld 0x%llx\n", (long long)pack->uids[i], (unsigned long long)pack->ptrs[i]);
  }
  return 0;
}
