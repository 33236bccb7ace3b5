// An adapter the calling app may run.
package ai.mtpf.demo;

parcelable AdapterInfo {
    String name;
    /** "ner" or "tc" */
    String task;
    String version;
    /** the first 64 labels (describe() stays small whatever the adapters hold); labelCount: all of them */
    String[] labels;
    int labelCount;
    /** registered by the calling app itself (registerAdapter), not shipped in the bundle */
    boolean ownedByCaller;
}
