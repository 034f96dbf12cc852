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
//
// Like the real library it refuses, with cuDNN's status codes, what a wrong
// enum value or a wrong attribute type would produce, so that the tests fail
// on them: every attribute the shim may set is in rules[] with the
// descriptor type it belongs to, its attribute type, its element count and,
// for a descriptor-valued one, the type of the descriptor it names (the names'
// values from cuDNN 9.6's cudnn_graph.h; the types and counts as
// cudnn-frontend 3929da2 sets them: node/pointwise.h, node/matmul.h,
// node/reduction.h, node/reshape.h, cudnn_frontend_Tensor.h,
// cudnn_frontend_OperationGraph.h, cudnn_frontend_Heuristics.h,
// cudnn_frontend_ExecutionPlan.h, cudnn_frontend_VariantPack.h). An unknown
// attribute or one on the wrong descriptor is BAD_PARAM (2000), a wrong type
// BAD_PARAM_ATTRIBUTE_TYPE (2010), a named descriptor of the wrong type
// BAD_PARAM_DESCRIPTOR_TYPE (2012) or not finalized BAD_PARAM_NOT_FINALIZED
// (2004); setting a finalized descriptor, finalizing one without its required
// attributes (a pointwise operation without the inputs its mode takes, a
// GEN_INDEX without its axis) and executing unfinalized descriptors are
// BAD_PARAM. The message for cudnnGetLastErrorString names the attribute.
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct desc {
  int id, type, byvalue, dtype, idx, finalized, pwmode, nptrs;
  int64_t uid;
  int64_t n;
  int64_t uids[64];
  void* ptrs[64];
  int set[16];  // attribute names set so far
  int nset;
  struct desc* pw;  // an operation pointwise's pointwise descriptor
} desc;

// cudnnBackendDescriptorType_t, cudnnBackendAttributeType_t (9.6's header)
enum { D_POINTWISE = 0, D_ENGINE = 2, D_ENGINECFG = 3, D_ENGINEHEUR = 4, D_PLAN = 5, D_OP_POINTWISE = 13,
       D_OPGRAPH = 15, D_VARIANT_PACK = 16, D_TENSOR = 17, D_MATMUL = 18, D_OP_MATMUL = 19, D_REDUCTION = 21,
       D_OP_REDUCTION = 22, D_OP_RESHAPE = 31, D_ANY_OP = -1 };
enum { T_HANDLE = 0, T_DATA_TYPE = 1, T_BOOLEAN = 2, T_INT64 = 3, T_FLOAT = 4, T_VOID_PTR = 6, T_HEUR_MODE = 8,
       T_NUMERICAL_NOTE = 11, T_POINTWISE_MODE = 14, T_DESCRIPTOR = 15, T_REDUCTION_OP = 18 };

typedef struct {
  int name, on, type, min, max, ref;  // ref: the descriptor type a T_DESCRIPTOR value must have
  const char* what;
} rule;

static const rule rules[] = {
    {0, D_POINTWISE, T_POINTWISE_MODE, 1, 1, 0, "CUDNN_ATTR_POINTWISE_MODE"},
    {1, D_POINTWISE, T_DATA_TYPE, 1, 1, 0, "CUDNN_ATTR_POINTWISE_MATH_PREC"},
    {9, D_POINTWISE, T_INT64, 1, 1, 0, "CUDNN_ATTR_POINTWISE_AXIS"},
    {200, D_ENGINEHEUR, T_HEUR_MODE, 1, 1, 0, "CUDNN_ATTR_ENGINEHEUR_MODE"},
    {201, D_ENGINEHEUR, T_DESCRIPTOR, 1, 1, D_OPGRAPH, "CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH"},
    {400, D_PLAN, T_HANDLE, 1, 1, 0, "CUDNN_ATTR_EXECUTION_PLAN_HANDLE"},
    {401, D_PLAN, T_DESCRIPTOR, 1, 1, D_ENGINECFG, "CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG"},
    {750, D_OP_POINTWISE, T_DESCRIPTOR, 1, 1, D_POINTWISE, "CUDNN_ATTR_OPERATION_POINTWISE_PW_DESCRIPTOR"},
    {751, D_OP_POINTWISE, T_DESCRIPTOR, 1, 1, D_TENSOR, "CUDNN_ATTR_OPERATION_POINTWISE_XDESC"},
    {752, D_OP_POINTWISE, T_DESCRIPTOR, 1, 1, D_TENSOR, "CUDNN_ATTR_OPERATION_POINTWISE_BDESC"},
    {753, D_OP_POINTWISE, T_DESCRIPTOR, 1, 1, D_TENSOR, "CUDNN_ATTR_OPERATION_POINTWISE_YDESC"},
    {754, D_OP_POINTWISE, T_FLOAT, 1, 1, 0, "CUDNN_ATTR_OPERATION_POINTWISE_ALPHA1"},
    {755, D_OP_POINTWISE, T_FLOAT, 1, 1, 0, "CUDNN_ATTR_OPERATION_POINTWISE_ALPHA2"},
    {758, D_OP_POINTWISE, T_DESCRIPTOR, 1, 1, D_TENSOR, "CUDNN_ATTR_OPERATION_POINTWISE_TDESC"},
    {800, D_OPGRAPH, T_HANDLE, 1, 1, 0, "CUDNN_ATTR_OPERATIONGRAPH_HANDLE"},
    {801, D_OPGRAPH, T_DESCRIPTOR, 1, 1 << 20, D_ANY_OP, "CUDNN_ATTR_OPERATIONGRAPH_OPS"},
    {900, D_TENSOR, T_INT64, 1, 1, 0, "CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT"},
    {901, D_TENSOR, T_DATA_TYPE, 1, 1, 0, "CUDNN_ATTR_TENSOR_DATA_TYPE"},
    {902, D_TENSOR, T_INT64, 1, 8, 0, "CUDNN_ATTR_TENSOR_DIMENSIONS"},
    {903, D_TENSOR, T_INT64, 1, 8, 0, "CUDNN_ATTR_TENSOR_STRIDES"},
    {906, D_TENSOR, T_INT64, 1, 1, 0, "CUDNN_ATTR_TENSOR_UNIQUE_ID"},
    {907, D_TENSOR, T_BOOLEAN, 1, 1, 0, "CUDNN_ATTR_TENSOR_IS_VIRTUAL"},
    {908, D_TENSOR, T_BOOLEAN, 1, 1, 0, "CUDNN_ATTR_TENSOR_IS_BY_VALUE"},
    {1000, D_VARIANT_PACK, T_INT64, 0, 64, 0, "CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS"},
    {1001, D_VARIANT_PACK, T_VOID_PTR, 0, 64, 0, "CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS"},
    {1003, D_VARIANT_PACK, T_VOID_PTR, 1, 1, 0, "CUDNN_ATTR_VARIANT_PACK_WORKSPACE"},
    {1500, D_MATMUL, T_DATA_TYPE, 1, 1, 0, "CUDNN_ATTR_MATMUL_COMP_TYPE"},
    {1520, D_OP_MATMUL, T_DESCRIPTOR, 1, 1, D_TENSOR, "CUDNN_ATTR_OPERATION_MATMUL_ADESC"},
    {1521, D_OP_MATMUL, T_DESCRIPTOR, 1, 1, D_TENSOR, "CUDNN_ATTR_OPERATION_MATMUL_BDESC"},
    {1522, D_OP_MATMUL, T_DESCRIPTOR, 1, 1, D_TENSOR, "CUDNN_ATTR_OPERATION_MATMUL_CDESC"},
    {1523, D_OP_MATMUL, T_DESCRIPTOR, 1, 1, D_MATMUL, "CUDNN_ATTR_OPERATION_MATMUL_DESC"},
    {1600, D_REDUCTION, T_REDUCTION_OP, 1, 1, 0, "CUDNN_ATTR_REDUCTION_OPERATOR"},
    {1601, D_REDUCTION, T_DATA_TYPE, 1, 1, 0, "CUDNN_ATTR_REDUCTION_COMP_TYPE"},
    {1610, D_OP_REDUCTION, T_DESCRIPTOR, 1, 1, D_TENSOR, "CUDNN_ATTR_OPERATION_REDUCTION_XDESC"},
    {1611, D_OP_REDUCTION, T_DESCRIPTOR, 1, 1, D_TENSOR, "CUDNN_ATTR_OPERATION_REDUCTION_YDESC"},
    {1612, D_OP_REDUCTION, T_DESCRIPTOR, 1, 1, D_REDUCTION, "CUDNN_ATTR_OPERATION_REDUCTION_DESC"},
    {2200, D_OP_RESHAPE, T_DESCRIPTOR, 1, 1, D_TENSOR, "CUDNN_ATTR_OPERATION_RESHAPE_XDESC"},
    {2201, D_OP_RESHAPE, T_DESCRIPTOR, 1, 1, D_TENSOR, "CUDNN_ATTR_OPERATION_RESHAPE_YDESC"},
};

// required[type]: how many attributes finalize needs, then their names.
static const int required[][8] = {
    [D_POINTWISE] = {2, 0, 1},  // mode, math precision
    [D_ENGINEHEUR] = {2, 200, 201},
    [D_PLAN] = {2, 400, 401},
    [D_OP_POINTWISE] = {5, 750, 751, 753, 754, 755},
    [D_OPGRAPH] = {2, 800, 801},
    [D_VARIANT_PACK] = {3, 1000, 1001, 1003},
    [D_TENSOR] = {5, 900, 901, 902, 903, 906},
    [D_MATMUL] = {1, 1500},
    [D_OP_MATMUL] = {4, 1520, 1521, 1522, 1523},
    [D_REDUCTION] = {2, 1600, 1601},
    [D_OP_REDUCTION] = {3, 1610, 1611, 1612},
    [D_OP_RESHAPE] = {2, 2200, 2201},
};

static int has(const desc* d, int name) {
  for (int i = 0; i < d->nset; i++)
    if (d->set[i] == name) return 1;
  return 0;
}

static int is_op(int type) {
  return type == D_OP_POINTWISE || type == D_OP_MATMUL || type == D_OP_REDUCTION || type == D_OP_RESHAPE;
}

static int next_id = 1;
static int plans_refused = 0;
static char lasterr[256];
static desc* descs[1 << 16];
static void lg(const char* fmt, ...);

// refuse sets cuDNN's message and returns status.
static int refuse(int status, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(lasterr, sizeof lasterr, fmt, ap);
  va_end(ap);
  lg("refused %d %s\n", status, lasterr);
  return status;
}

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
  if (d->finalized) return refuse(2000, "fake: attribute %d set on a finalized descriptor (type %d)", name, d->type);
  const rule* r = NULL;
  for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++)
    if (rules[i].name == name) r = &rules[i];
  if (r == NULL || r->on != d->type)
    return refuse(2000, "fake: attribute %d does not belong to a descriptor of type %d", name, d->type);
  if (type != r->type) return refuse(2010, "fake: %s takes attribute type %d, not %d", r->what, r->type, type);
  if (n < r->min || n > r->max) return refuse(2000, "fake: %s takes %d to %d elements, not %lld", r->what, r->min, r->max, (long long)n);
  if (type == T_DESCRIPTOR)
    for (int64_t i = 0; i < n; i++) {
      const desc* x = ((desc* const*)v)[i];
      if (r->ref == D_ANY_OP ? !is_op(x->type) : x->type != r->ref)
        return refuse(2012, "fake: %s names descriptor #%d of type %d", r->what, x->id, x->type);
      if (!x->finalized) return refuse(2004, "fake: %s names descriptor #%d, not finalized", r->what, x->id);
    }
  if (d->nset < 16) d->set[d->nset++] = name;
  if (name == 0) d->pwmode = *(const int32_t*)v;
  if (name == 750) d->pw = *(desc* const*)v;
  if (name == 1001) d->nptrs = (int)n;
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
  if (d->finalized) return refuse(2000, "fake: descriptor #%d finalized twice", d->id);
  if (d->type >= 0 && d->type < (int)(sizeof required / sizeof required[0]))
    for (int i = 1; i <= required[d->type][0]; i++)
      if (!has(d, required[d->type][i]))
        return refuse(2000, "fake: descriptor #%d (type %d) finalized without attribute %d", d->id, d->type, required[d->type][i]);
  if (d->type == D_OP_POINTWISE) {
    // the inputs each mode takes (cudnn-frontend's get_pointwise_mode_port_count):
    // EXP, LOG, GEN_INDEX one; ADD, MUL, DIV, SUB, CMP_GE two; BINARY_SELECT three
    int m = d->pw->pwmode, ins = (m == 13 || m == 15 || m == 501) ? 1 : m == 601 ? 3 : 2;
    if (has(d, 752) != (ins >= 2) || has(d, 758) != (ins == 3))
      return refuse(2000, "fake: pointwise mode %d takes %d inputs", m, ins);
    if ((m == 501) != has(d->pw, 9)) return refuse(2000, "fake: GEN_INDEX needs an axis (and only it takes one)");
  }
  if (d->type == D_VARIANT_PACK && d->nptrs != d->n)
    return refuse(2000, "fake: variant pack with %lld uids and %d pointers", (long long)d->n, d->nptrs);
  if (envl("FAKE_CUDNN_FAIL_FINALIZE", -1) == d->type) {
    snprintf(lasterr, sizeof lasterr, "fake: no engine for this graph pattern (descriptor type %d)", d->type);
    return 3001;
  }
  if (d->type == 5 && plans_refused < envl("FAKE_CUDNN_REFUSE_PLANS", 0)) {
    plans_refused++;
    snprintf(lasterr, sizeof lasterr, "fake: config refused");
    return 3000;
  }
  d->finalized = 1;
  return 0;
}

int cudnnBackendGetAttribute(void* p, int name, int type, int64_t req, int64_t* count, void* v) {
  desc* d = p;
  lg("get #%d %d %d %lld\n", d->id, name, type, (long long)req);
  // what may be read, from what, as which type (9.6's header; cudnn-frontend's
  // cudnn_frontend_Heuristics.h, cudnn_frontend_Filters.h, plans.h)
  static const int gets[][3] = {{202, D_ENGINEHEUR, T_DESCRIPTOR}, {300, D_ENGINECFG, T_DESCRIPTOR},
                                {1301, D_ENGINE, T_INT64}, {1303, D_ENGINE, T_NUMERICAL_NOTE}, {402, D_PLAN, T_INT64}};
  int known = 0;
  for (size_t i = 0; i < sizeof gets / sizeof gets[0]; i++)
    if (gets[i][0] == name) {
      known = 1;
      if (gets[i][1] != d->type) return refuse(2000, "fake: attribute %d read from a descriptor of type %d", name, d->type);
      if (gets[i][2] != type) return refuse(2010, "fake: attribute %d read as type %d, not %d", name, type, gets[i][2]);
    }
  if (known && !d->finalized) return refuse(2004, "fake: attribute %d read from descriptor #%d, not finalized", name, d->id);
  switch (name) {
    case 202: {  // ENGINEHEUR_RESULTS: into engine configs made by the caller, which cuDNN finalizes
      int64_t n = envl("FAKE_CUDNN_CONFIGS", 2);
      *count = req == 0 ? n : (req < n ? req : n);
      for (int64_t i = 0; i < req && i < n; i++) {
        desc* c = ((desc**)v)[i];
        if (c->type != D_ENGINECFG) return refuse(2012, "fake: heuristics result into descriptor of type %d", c->type);
        c->idx = (int)i;  // config i's engine is 7+i
        c->finalized = 1;
      }
      return 0;
    }
    case 402:  // EXECUTION_PLAN_WORKSPACE_SIZE
      *(int64_t*)v = envl("FAKE_CUDNN_WS", 1048576);
      *count = 1;
      return 0;
    case 300:  // ENGINECFG_ENGINE, into an engine descriptor made by the caller
      if ((*(desc**)v)->type != D_ENGINE) return refuse(2012, "fake: engine into descriptor of type %d", (*(desc**)v)->type);
      (*(desc**)v)->idx = d->idx;
      (*(desc**)v)->finalized = 1;
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
  if (pl->type != D_PLAN || pack->type != D_VARIANT_PACK || !pl->finalized || !pack->finalized)
    return refuse(2000, "fake: execute of an unfinalized plan or variant pack");
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
