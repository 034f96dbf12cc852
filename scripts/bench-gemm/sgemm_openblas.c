// sgemm_openblas: GFLOP/s of OpenBLAS cblas_sgemm, row-major C = A·B (or A·Bᵀ),
// square n, after one warm-up call; prints the median of REPS timed calls.
//
//   sgemm_openblas N REPS [NN|NT|TN]   (threads: OPENBLAS_NUM_THREADS)
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int cmp(const void *a, const void *b) {
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int main(int argc, char **argv) {
	int n = argc > 1 ? atoi(argv[1]) : 1024;
	int reps = argc > 2 ? atoi(argv[2]) : 5;
	const char *lay = argc > 3 ? argv[3] : "NN";
	enum CBLAS_TRANSPOSE ta = lay[0] == 'T' ? CblasTrans : CblasNoTrans;
	enum CBLAS_TRANSPOSE tb = lay[1] == 'T' ? CblasTrans : CblasNoTrans;
	float *a = aligned_alloc(64, sizeof(float) * n * n);
	float *b = aligned_alloc(64, sizeof(float) * n * n);
	float *c = aligned_alloc(64, sizeof(float) * n * n);
	for (long i = 0; i < (long)n * n; i++) {
		a[i] = (float)rand() / RAND_MAX - 0.5f;
		b[i] = (float)rand() / RAND_MAX - 0.5f;
		c[i] = 0;
	}
	double *g = malloc(sizeof(double) * reps);
	cblas_sgemm(CblasRowMajor, ta, tb, n, n, n, 1, a, n, b, n, 0, c, n);
	for (int r = 0; r < reps; r++) {
		// Repeat small products so each sample lasts ≥ ~50 ms.
		long inner = 1;
		while ((double)inner * 2.0 * n * n * n < 5e9) inner *= 2;
		struct timespec t0, t1;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		for (long i = 0; i < inner; i++)
			cblas_sgemm(CblasRowMajor, ta, tb, n, n, n, 1, a, n, b, n, 0, c, n);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		double s = (t1.tv_sec - t0.tv_sec) + 1e-9 * (t1.tv_nsec - t0.tv_nsec);
		g[r] = 2.0 * n * n * n * inner / s / 1e9;
	}
	qsort(g, reps, sizeof(double), cmp);
	printf("%.1f\n", g[reps / 2]);
	fprintf(stderr, "openblas core %s, config %s\n", openblas_get_corename(), openblas_get_config());
	return 0;
}
