/* Prints where each ONNX Runtime C API function the JVM tests call sits in the OrtApi table (index of
 * its pointer), from the headers of the AAR being packaged, so the JNA engine never hard-codes a slot.
 * build.sh: gcc -I AAR/headers ort_api_offsets.c && ./a.out > ort_api.properties */
#include <stddef.h>
#include <stdio.h>
#include "onnxruntime_c_api.h"

#define SLOT(name) printf(#name "=%zu\n", offsetof(OrtApi, name) / sizeof(void *))

int main(void) {
    printf("ORT_API_VERSION=%d\n", ORT_API_VERSION);
    SLOT(CreateStatus); SLOT(GetErrorCode); SLOT(GetErrorMessage); SLOT(ReleaseStatus);
    SLOT(CreateEnv); SLOT(ReleaseEnv);
    SLOT(CreateSessionOptions); SLOT(ReleaseSessionOptions); SLOT(SetIntraOpNumThreads); SLOT(SetInterOpNumThreads);
    SLOT(SetSessionGraphOptimizationLevel); SLOT(AddSessionConfigEntry); SLOT(SetSessionLogSeverityLevel);
    SLOT(CreateSessionFromArray); SLOT(ReleaseSession);
    SLOT(CreateRunOptions); SLOT(ReleaseRunOptions); SLOT(RunOptionsSetTerminate); SLOT(RunOptionsAddActiveLoraAdapter);
    SLOT(CreateLoraAdapterFromArray); SLOT(ReleaseLoraAdapter);
    SLOT(CreateCpuMemoryInfo); SLOT(ReleaseMemoryInfo);
    SLOT(CreateTensorWithDataAsOrtValue); SLOT(ReleaseValue); SLOT(GetTensorMutableData);
    SLOT(GetTensorTypeAndShape); SLOT(GetDimensionsCount); SLOT(GetDimensions); SLOT(ReleaseTensorTypeAndShapeInfo);
    SLOT(Run);
    return 0;
}
