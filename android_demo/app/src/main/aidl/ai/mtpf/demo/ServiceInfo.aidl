// What describe() tells the calling app: the interface version, the backbone, its adapters and limits.
package ai.mtpf.demo;

import ai.mtpf.demo.AdapterInfo;

parcelable ServiceInfo {
    /** IBackboneService.VERSION of the service */
    int interfaceVersion;
    /** 0, or ERROR_BACKBONE_NOT_LOADED with the reason in message */
    int error;
    String message;
    String backbone;
    /** the adapters this caller may run */
    AdapterInfo[] adapters;
    /** bundle adapters the service refused at load, and why (same order) */
    String[] refusedNames;
    String[] refusedReasons;
    int maxInputChars;
    int requestsPerMinute;
    int maxConcurrent;
}
