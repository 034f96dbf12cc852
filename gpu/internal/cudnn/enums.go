package cudnn

import "fmt"

// Enum values of cuDNN 9's cudnn_graph.h (the same in 9.0 through 9.2x:
// new values are only ever appended). Only those the SDPA graphs use.
// Each was checked by its number against 9.6's header (zspace/system.cuda-12.6
// include/cudnn_graph.h; the implicit enums counted from their first value)
// and the 9.2x binding cited in gpu/README.md; enums_test.go lists them.

// cudnnBackendDescriptorType_t.
const (
	descPointwise   = 0
	descEngine      = 2
	descEngineCfg   = 3
	descEngineHeur  = 4
	descExecPlan    = 5
	descOpPointwise = 13
	descOpGraph     = 15
	descVariantPack = 16
	descTensor      = 17
	descMatmul      = 18
	descOpMatmul    = 19
	descReduction   = 21
	descOpReduction = 22
	descOpReshape   = 31
)

// cudnnBackendAttributeType_t.
const (
	typeHandle     = 0
	typeDataType   = 1
	typeBoolean    = 2 // C bool, one byte
	typeInt64      = 3
	typeFloat      = 4
	typeVoidPtr    = 6
	typeHeurMode   = 8
	typeNumNote    = 11 // cudnnBackendNumericalNote_t
	typePWMode     = 14
	typeDescriptor = 15
	typeReduceOp   = 18
)

// cudnnBackendAttributeName_t.
const (
	attrPointwiseMode     = 0
	attrPointwiseMathPrec = 1
	attrPointwiseAxis     = 9

	attrEngineHeurMode    = 200
	attrEngineHeurGraph   = 201
	attrEngineHeurResults = 202

	attrEngineCfgEngine = 300

	attrPlanHandle    = 400
	attrPlanEngineCfg = 401
	attrPlanWorkspace = 402

	attrOpPWDesc   = 750
	attrOpPWX      = 751
	attrOpPWB      = 752
	attrOpPWY      = 753
	attrOpPWAlpha1 = 754
	attrOpPWAlpha2 = 755
	attrOpPWTDesc  = 758

	attrGraphHandle = 800
	attrGraphOps    = 801

	attrTensorAlignment = 900
	attrTensorDataType  = 901
	attrTensorDims      = 902
	attrTensorStrides   = 903
	attrTensorUID       = 906
	attrTensorVirtual   = 907
	attrTensorByValue   = 908

	attrVPUIDs      = 1000
	attrVPPointers  = 1001
	attrVPWorkspace = 1003

	attrEngineGlobalIndex   = 1301
	attrEngineNumericalNote = 1303

	attrMatmulCompType = 1500
	attrOpMatmulA      = 1520
	attrOpMatmulB      = 1521
	attrOpMatmulC      = 1522
	attrOpMatmulDesc   = 1523

	attrReductionOp       = 1600
	attrReductionCompType = 1601
	attrOpReductionX      = 1610
	attrOpReductionY      = 1611
	attrOpReductionDesc   = 1612

	attrOpReshapeX = 2200
	attrOpReshapeY = 2201
)

// cudnnDataType_t.
const (
	dataFloat = 0
	dataInt32 = 4
	dataBF16  = 9
	dataBool  = 11
)

// cudnnPointwiseMode_t.
const (
	pwAdd      = 0
	pwMul      = 1
	pwDiv      = 6
	pwSub      = 9
	pwExp      = 13
	pwLog      = 15
	pwCmpGE    = 303
	pwGenIndex = 501
	pwSelect   = 601 // BINARY_SELECT: y = t ? x : b
)

// cudnnReduceTensorOp_t.
const (
	reduceAdd = 0
	reduceMax = 3
)

// cudnnBackendNumericalNote_t: CUDNN_NUMERICAL_NOTE_NONDETERMINISTIC.
const noteNondeterministic = 4

// cudnnBackendHeurMode_t.
const (
	heurFallback = 2
	heurA        = 3
)

// Status is a cudnnStatus_t other than CUDNN_STATUS_SUCCESS.
type Status int

// statusNames is cudnnStatus_t as in 9.6's cudnn_graph.h, every value.
var statusNames = map[Status]string{
	1001: "NOT_INITIALIZED", 1002: "SUBLIBRARY_VERSION_MISMATCH", 1003: "SERIALIZATION_VERSION_MISMATCH",
	1004: "DEPRECATED", 1005: "LICENSE_ERROR", 1006: "RUNTIME_IN_PROGRESS", 1007: "RUNTIME_FP_OVERFLOW",
	1008: "SUBLIBRARY_LOADING_FAILED",
	2000: "BAD_PARAM", 2001: "INVALID_VALUE", 2002: "BAD_PARAM_NULL_POINTER", 2003: "BAD_PARAM_MISALIGNED_POINTER",
	2004: "BAD_PARAM_NOT_FINALIZED", 2005: "BAD_PARAM_OUT_OF_BOUND", 2006: "BAD_PARAM_SIZE_INSUFFICIENT",
	2007: "BAD_PARAM_STREAM_MISMATCH", 2008: "BAD_PARAM_SHAPE_MISMATCH", 2009: "BAD_PARAM_DUPLICATED_ENTRIES",
	2010: "BAD_PARAM_ATTRIBUTE_TYPE", 2011: "BAD_PARAM_CUDA_GRAPH_MISMATCH", 2012: "BAD_PARAM_DESCRIPTOR_TYPE",
	3000: "NOT_SUPPORTED", 3001: "NOT_SUPPORTED_GRAPH_PATTERN", 3002: "NOT_SUPPORTED_SHAPE",
	3003: "NOT_SUPPORTED_DATA_TYPE", 3004: "NOT_SUPPORTED_LAYOUT", 3005: "NOT_SUPPORTED_INCOMPATIBLE_CUDA_DRIVER",
	3006: "NOT_SUPPORTED_INCOMPATIBLE_CUDART", 3007: "NOT_SUPPORTED_ARCH_MISMATCH",
	3008: "NOT_SUPPORTED_RUNTIME_PREREQUISITE_MISSING", 3009: "NOT_SUPPORTED_SUBLIBRARY_UNAVAILABLE",
	3010: "NOT_SUPPORTED_SHARED_MEMORY_INSUFFICIENT", 3011: "NOT_SUPPORTED_PADDING",
	3012: "NOT_SUPPORTED_BAD_LAUNCH_PARAM", 3013: "NOT_SUPPORTED_CUDA_GRAPH_NATIVE_API",
	4000: "INTERNAL_ERROR", 4001: "INTERNAL_ERROR_COMPILATION_FAILED", 4002: "INTERNAL_ERROR_UNEXPECTED_VALUE",
	4003: "INTERNAL_ERROR_HOST_ALLOCATION_FAILED", 4004: "INTERNAL_ERROR_DEVICE_ALLOCATION_FAILED",
	4005: "INTERNAL_ERROR_BAD_LAUNCH_PARAM", 4006: "INTERNAL_ERROR_TEXTURE_CREATION_FAILED",
	5000: "EXECUTION_FAILED", 5001: "EXECUTION_FAILED_CUDA_DRIVER", 5002: "EXECUTION_FAILED_CUBLAS",
	5003: "EXECUTION_FAILED_CUDART", 5004: "EXECUTION_FAILED_CURAND",
}

func (s Status) Error() string {
	if n, ok := statusNames[s]; ok {
		return "CUDNN_STATUS_" + n
	}
	return fmt.Sprintf("cudnnStatus %d", int(s))
}

// CallError is a failed cuDNN call: which call, on what, its status and
// cuDNN's own message (cudnnGetLastErrorString; "" when it had none).
type CallError struct {
	Call, What string
	Status     Status
	Message    string
}

func (e *CallError) Error() string {
	s := e.Call
	if e.What != "" {
		s += " (" + e.What + ")"
	}
	s += ": " + e.Status.Error()
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

func (e *CallError) Unwrap() error { return e.Status }
