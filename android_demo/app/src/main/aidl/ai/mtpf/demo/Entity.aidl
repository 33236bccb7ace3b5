// One entity of an NER reply. start/end are UTF-16 indices into the request text (what Android's spans take).
package ai.mtpf.demo;

parcelable Entity {
    String label;
    /** the entity's text, at most 128 chars */
    String text;
    int start;
    int end;
    float score;
}
