// An adapter the calling app may run.
package ai.mtpf.demo;

parcelable AdapterInfo {
    String name;
    /** "ner" or "tc" */
    String task;
    String version;
    String[] labels;
    /** registered by the calling app itself (registerAdapter), not shipped in the bundle */
    boolean ownedByCaller;
}
