package cudnn

import "testing"

// The enum values the shim uses, by their names in cuDNN 9.6's cudnn_graph.h
// (zspace/system.cuda-12.6 include/cudnn_graph.h; the values of the implicit
// enums cudnnBackendDescriptorType_t, cudnnBackendAttributeType_t and
// cudnnBackendNumericalNote_t counted from 0 in declaration order). Typed in
// from the header, not from enums.go, so that an edit of enums.go that
// breaks one fails here. The attribute names and types are held to the
// header again by testdata/fakecudnn.c's rules.
func TestEnumValuesMatchHeader(t *testing.T) {
	for _, c := range []struct {
		name      string
		got, want int
	}{
		{"CUDNN_BACKEND_POINTWISE_DESCRIPTOR", descPointwise, 0},
		{"CUDNN_BACKEND_ENGINE_DESCRIPTOR", descEngine, 2},
		{"CUDNN_BACKEND_ENGINECFG_DESCRIPTOR", descEngineCfg, 3},
		{"CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR", descEngineHeur, 4},
		{"CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR", descExecPlan, 5},
		{"CUDNN_BACKEND_OPERATION_POINTWISE_DESCRIPTOR", descOpPointwise, 13},
		{"CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR", descOpGraph, 15},
		{"CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR", descVariantPack, 16},
		{"CUDNN_BACKEND_TENSOR_DESCRIPTOR", descTensor, 17},
		{"CUDNN_BACKEND_MATMUL_DESCRIPTOR", descMatmul, 18},
		{"CUDNN_BACKEND_OPERATION_MATMUL_DESCRIPTOR", descOpMatmul, 19},
		{"CUDNN_BACKEND_REDUCTION_DESCRIPTOR", descReduction, 21},
		{"CUDNN_BACKEND_OPERATION_REDUCTION_DESCRIPTOR", descOpReduction, 22},
		{"CUDNN_BACKEND_OPERATION_RESHAPE_DESCRIPTOR", descOpReshape, 31},
		{"CUDNN_TYPE_HANDLE", typeHandle, 0},
		{"CUDNN_TYPE_DATA_TYPE", typeDataType, 1},
		{"CUDNN_TYPE_BOOLEAN", typeBoolean, 2},
		{"CUDNN_TYPE_INT64", typeInt64, 3},
		{"CUDNN_TYPE_FLOAT", typeFloat, 4},
		{"CUDNN_TYPE_VOID_PTR", typeVoidPtr, 6},
		{"CUDNN_TYPE_HEUR_MODE", typeHeurMode, 8},
		{"CUDNN_TYPE_NUMERICAL_NOTE", typeNumNote, 11},
		{"CUDNN_TYPE_POINTWISE_MODE", typePWMode, 14},
		{"CUDNN_TYPE_BACKEND_DESCRIPTOR", typeDescriptor, 15},
		{"CUDNN_TYPE_REDUCTION_OPERATOR_TYPE", typeReduceOp, 18},
		{"CUDNN_DATA_FLOAT", dataFloat, 0},
		{"CUDNN_DATA_INT32", dataInt32, 4},
		{"CUDNN_DATA_BFLOAT16", dataBF16, 9},
		{"CUDNN_DATA_BOOLEAN", dataBool, 11},
		{"CUDNN_POINTWISE_ADD", pwAdd, 0},
		{"CUDNN_POINTWISE_MUL", pwMul, 1},
		{"CUDNN_POINTWISE_DIV", pwDiv, 6},
		{"CUDNN_POINTWISE_SUB", pwSub, 9},
		{"CUDNN_POINTWISE_EXP", pwExp, 13},
		{"CUDNN_POINTWISE_LOG", pwLog, 15},
		{"CUDNN_POINTWISE_CMP_GE", pwCmpGE, 303},
		{"CUDNN_POINTWISE_GEN_INDEX", pwGenIndex, 501},
		{"CUDNN_POINTWISE_BINARY_SELECT", pwSelect, 601},
		{"CUDNN_REDUCE_TENSOR_ADD", reduceAdd, 0},
		{"CUDNN_REDUCE_TENSOR_MAX", reduceMax, 3},
		{"CUDNN_NUMERICAL_NOTE_NONDETERMINISTIC", noteNondeterministic, 4},
		{"CUDNN_HEUR_MODE_FALLBACK", heurFallback, 2},
		{"CUDNN_HEUR_MODE_A", heurA, 3},
		{"CUDNN_ATTR_POINTWISE_MODE", attrPointwiseMode, 0},
		{"CUDNN_ATTR_POINTWISE_MATH_PREC", attrPointwiseMathPrec, 1},
		{"CUDNN_ATTR_POINTWISE_AXIS", attrPointwiseAxis, 9},
		{"CUDNN_ATTR_ENGINEHEUR_MODE", attrEngineHeurMode, 200},
		{"CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH", attrEngineHeurGraph, 201},
		{"CUDNN_ATTR_ENGINEHEUR_RESULTS", attrEngineHeurResults, 202},
		{"CUDNN_ATTR_ENGINECFG_ENGINE", attrEngineCfgEngine, 300},
		{"CUDNN_ATTR_EXECUTION_PLAN_HANDLE", attrPlanHandle, 400},
		{"CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG", attrPlanEngineCfg, 401},
		{"CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE", attrPlanWorkspace, 402},
		{"CUDNN_ATTR_OPERATION_POINTWISE_PW_DESCRIPTOR", attrOpPWDesc, 750},
		{"CUDNN_ATTR_OPERATION_POINTWISE_XDESC", attrOpPWX, 751},
		{"CUDNN_ATTR_OPERATION_POINTWISE_BDESC", attrOpPWB, 752},
		{"CUDNN_ATTR_OPERATION_POINTWISE_YDESC", attrOpPWY, 753},
		{"CUDNN_ATTR_OPERATION_POINTWISE_ALPHA1", attrOpPWAlpha1, 754},
		{"CUDNN_ATTR_OPERATION_POINTWISE_ALPHA2", attrOpPWAlpha2, 755},
		{"CUDNN_ATTR_OPERATION_POINTWISE_TDESC", attrOpPWTDesc, 758},
		{"CUDNN_ATTR_OPERATIONGRAPH_HANDLE", attrGraphHandle, 800},
		{"CUDNN_ATTR_OPERATIONGRAPH_OPS", attrGraphOps, 801},
		{"CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT", attrTensorAlignment, 900},
		{"CUDNN_ATTR_TENSOR_DATA_TYPE", attrTensorDataType, 901},
		{"CUDNN_ATTR_TENSOR_DIMENSIONS", attrTensorDims, 902},
		{"CUDNN_ATTR_TENSOR_STRIDES", attrTensorStrides, 903},
		{"CUDNN_ATTR_TENSOR_UNIQUE_ID", attrTensorUID, 906},
		{"CUDNN_ATTR_TENSOR_IS_VIRTUAL", attrTensorVirtual, 907},
		{"CUDNN_ATTR_TENSOR_IS_BY_VALUE", attrTensorByValue, 908},
		{"CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS", attrVPUIDs, 1000},
		{"CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS", attrVPPointers, 1001},
		{"CUDNN_ATTR_VARIANT_PACK_WORKSPACE", attrVPWorkspace, 1003},
		{"CUDNN_ATTR_ENGINE_GLOBAL_INDEX", attrEngineGlobalIndex, 1301},
		{"CUDNN_ATTR_ENGINE_NUMERICAL_NOTE", attrEngineNumericalNote, 1303},
		{"CUDNN_ATTR_MATMUL_COMP_TYPE", attrMatmulCompType, 1500},
		{"CUDNN_ATTR_OPERATION_MATMUL_ADESC", attrOpMatmulA, 1520},
		{"CUDNN_ATTR_OPERATION_MATMUL_BDESC", attrOpMatmulB, 1521},
		{"CUDNN_ATTR_OPERATION_MATMUL_CDESC", attrOpMatmulC, 1522},
		{"CUDNN_ATTR_OPERATION_MATMUL_DESC", attrOpMatmulDesc, 1523},
		{"CUDNN_ATTR_REDUCTION_OPERATOR", attrReductionOp, 1600},
		{"CUDNN_ATTR_REDUCTION_COMP_TYPE", attrReductionCompType, 1601},
		{"CUDNN_ATTR_OPERATION_REDUCTION_XDESC", attrOpReductionX, 1610},
		{"CUDNN_ATTR_OPERATION_REDUCTION_YDESC", attrOpReductionY, 1611},
		{"CUDNN_ATTR_OPERATION_REDUCTION_DESC", attrOpReductionDesc, 1612},
		{"CUDNN_ATTR_OPERATION_RESHAPE_XDESC", attrOpReshapeX, 2200},
		{"CUDNN_ATTR_OPERATION_RESHAPE_YDESC", attrOpReshapeY, 2201},
	} {
		if c.got != c.want {
			t.Errorf("%s = %d, the header has %d", c.name, c.got, c.want)
		}
	}
	if got := Status(3013).Error(); got != "CUDNN_STATUS_NOT_SUPPORTED_CUDA_GRAPH_NATIVE_API" {
		t.Errorf("Status(3013) = %s", got)
	}
}
