// The reply to run(): error 0 and a result, or an IBackboneService.ERROR_* code and a message.
// Bounded (at most 256 entities of 128 chars, 5 labels) far below binder's 1 MB transaction buffer.
package ai.mtpf.demo;

import ai.mtpf.demo.Entity;

parcelable Reply {
    int error;
    String message;
    /** "ner" or "tc" */
    String task;
    Entity[] entities;
    /** entities beyond the first 256, left out */
    int entitiesDropped;
    /** tc: the best label, then the top labels with their probabilities */
    String label;
    String[] topLabels;
    float[] topProbabilities;
    /** tc: the text was longer than the adapter's window and was cut */
    boolean truncated;
    float latencyMs;
    String backbone;
    String adapter;
}
