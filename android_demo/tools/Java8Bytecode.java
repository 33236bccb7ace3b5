import org.objectweb.asm.ClassReader;
import org.objectweb.asm.ClassWriter;
import org.objectweb.asm.ConstantDynamic;
import org.objectweb.asm.Handle;
import org.objectweb.asm.Opcodes;
import org.objectweb.asm.Type;
import org.objectweb.asm.tree.AbstractInsnNode;
import org.objectweb.asm.tree.ClassNode;
import org.objectweb.asm.tree.FieldInsnNode;
import org.objectweb.asm.tree.FieldNode;
import org.objectweb.asm.tree.InsnNode;
import org.objectweb.asm.tree.InvokeDynamicInsnNode;
import org.objectweb.asm.tree.LdcInsnNode;
import org.objectweb.asm.tree.MethodInsnNode;
import org.objectweb.asm.tree.MethodNode;
import org.objectweb.asm.tree.TypeInsnNode;
import org.objectweb.asm.tree.VarInsnNode;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Enumeration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;

/**
 * Rewrites a jar of Java 9–17 class files as Java 8 class files (version 52) for bullseye's {@code dx},
 * which reads nothing newer; Debian has no d8/R8. {@code java Java8Bytecode in.jar out-folder}.
 *
 * <p>What it changes, and nothing else: the class version; nestmate attributes are dropped and the
 * private members another class of the nest uses become package-private (calls to private methods of
 * the same class stay {@code invokespecial}); each {@code invokedynamic} of
 * {@code LambdaMetafactory.metafactory} with a static implementation becomes a call to a generated
 * {@code Owner$$Lambda$N.create(...)} class. Anything else newer than Java 8 (other bootstrap methods,
 * constant dynamic, records, sealed classes, modules) stops the build with the class named. Library
 * calls are kept as they are, as d8 keeps them.
 */
public final class Java8Bytecode {
    private static final String METAFACTORY = "java/lang/invoke/LambdaMetafactory";

    private final Map<String, ClassNode> classes = new LinkedHashMap<>();
    private final List<ClassNode> generated = new ArrayList<>();

    public static void main(String[] args) throws IOException {
        if (args.length != 2) throw new IllegalArgumentException("usage: Java8Bytecode in.jar out-folder");
        Java8Bytecode tool = new Java8Bytecode();
        int resources = tool.read(Paths.get(args[0]));
        int lambdas = tool.convert();
        tool.write(Paths.get(args[1]));
        System.out.println(args[0] + ": " + tool.classes.size() + " classes at version 52, " + lambdas
            + " lambdas as classes, " + resources + " non-class files left out");
    }

    private int read(Path jar) throws IOException {
        int skipped = 0;
        try (ZipFile zip = new ZipFile(jar.toFile())) {
            Enumeration<? extends ZipEntry> entries = zip.entries();
            while (entries.hasMoreElements()) {
                ZipEntry e = entries.nextElement();
                if (e.isDirectory()) continue;
                if (!e.getName().endsWith(".class") || e.getName().equals("module-info.class")
                        || e.getName().startsWith("META-INF/")) { skipped++; continue; }
                ClassNode node = new ClassNode();
                try (InputStream in = zip.getInputStream(e)) { new ClassReader(readAll(in)).accept(node, 0); }
                classes.put(node.name, node);
            }
        }
        return skipped;
    }

    private static byte[] readAll(InputStream in) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        byte[] buf = new byte[1 << 16];
        for (int n; (n = in.read(buf)) > 0; ) out.write(buf, 0, n);
        return out.toByteArray();
    }

    private static IllegalStateException unsupported(ClassNode c, String what) {
        return new IllegalStateException(c.name + ": " + what + " has no Java 8 form this tool knows; refusing to guess");
    }

    private int convert() {
        for (ClassNode c : classes.values()) {
            if (c.module != null) throw unsupported(c, "a module descriptor");
            if (c.recordComponents != null) throw unsupported(c, "a record");
            if (c.permittedSubclasses != null) throw unsupported(c, "a sealed class (PermittedSubclasses)");
            c.nestHostClass = null;
            c.nestMembers = null;
        }
        // private members used from another class (nestmate access) become package-private
        for (ClassNode c : classes.values()) {
            for (MethodNode m : c.methods) {
                for (AbstractInsnNode insn : m.instructions) {
                    if (insn instanceof MethodInsnNode) {
                        MethodInsnNode call = (MethodInsnNode) insn;
                        if (!call.owner.equals(c.name)) openMethod(call.owner, call.name, call.desc);
                    } else if (insn instanceof FieldInsnNode) {
                        FieldInsnNode f = (FieldInsnNode) insn;
                        if (!f.owner.equals(c.name)) openField(f.owner, f.name, f.desc);
                    } else if (insn instanceof LdcInsnNode && ((LdcInsnNode) insn).cst instanceof ConstantDynamic) {
                        throw unsupported(c, "a dynamic constant in " + m.name);
                    }
                }
            }
        }
        int lambdas = 0;
        for (ClassNode c : new ArrayList<>(classes.values())) {
            for (MethodNode m : c.methods) {
                for (AbstractInsnNode insn : m.instructions.toArray()) {
                    if (insn instanceof InvokeDynamicInsnNode) {
                        m.instructions.set(insn, lambda(c, m, (InvokeDynamicInsnNode) insn, lambdas++));
                    } else if (insn instanceof MethodInsnNode) {
                        MethodInsnNode call = (MethodInsnNode) insn;
                        MethodNode target = find(call.owner, call.name, call.desc);
                        // Java 11+ calls a nestmate's private method with invokevirtual; a private method
                        // of this same class must be called with invokespecial in Java 8
                        if (call.getOpcode() == Opcodes.INVOKEVIRTUAL && call.owner.equals(c.name) && target != null
                                && (target.access & Opcodes.ACC_PRIVATE) != 0) call.setOpcode(Opcodes.INVOKESPECIAL);
                        // an opened (no longer private) method of this class is called virtually
                        if (call.getOpcode() == Opcodes.INVOKESPECIAL && call.owner.equals(c.name) && target != null
                                && !call.name.equals("<init>") && (target.access & Opcodes.ACC_PRIVATE) == 0
                                && (target.access & Opcodes.ACC_STATIC) == 0) {
                            call.setOpcode((c.access & Opcodes.ACC_INTERFACE) != 0 ? Opcodes.INVOKEINTERFACE : Opcodes.INVOKEVIRTUAL);
                        }
                    }
                }
            }
            c.version = Opcodes.V1_8;
        }
        return lambdas;
    }

    private MethodNode find(String owner, String name, String desc) {
        ClassNode c = classes.get(owner);
        if (c == null) return null;
        for (MethodNode m : c.methods) if (m.name.equals(name) && m.desc.equals(desc)) return m;
        return null;
    }

    private void openMethod(String owner, String name, String desc) {
        MethodNode m = find(owner, name, desc);
        if (m != null && (m.access & Opcodes.ACC_PRIVATE) != 0) m.access &= ~Opcodes.ACC_PRIVATE;
    }

    private void openField(String owner, String name, String desc) {
        ClassNode c = classes.get(owner);
        if (c == null) return;
        for (FieldNode f : c.fields) {
            if (f.name.equals(name) && f.desc.equals(desc) && (f.access & Opcodes.ACC_PRIVATE) != 0) f.access &= ~Opcodes.ACC_PRIVATE;
        }
    }

    /** The generated class for one metafactory call site; returns the instruction that replaces it. */
    private AbstractInsnNode lambda(ClassNode owner, MethodNode where, InvokeDynamicInsnNode indy, int index) {
        Handle bsm = indy.bsm;
        if (!bsm.getOwner().equals(METAFACTORY) || !bsm.getName().equals("metafactory")) {
            throw unsupported(owner, "invokedynamic with bootstrap " + bsm.getOwner() + "." + bsm.getName() + " in " + where.name);
        }
        Type sam = (Type) indy.bsmArgs[0];
        Handle impl = (Handle) indy.bsmArgs[1];
        Type instantiated = (Type) indy.bsmArgs[2];
        if (impl.getTag() != Opcodes.H_INVOKESTATIC) {
            throw unsupported(owner, "a lambda whose implementation is not a static method (" + impl + ") in " + where.name);
        }
        openMethod(impl.getOwner(), impl.getName(), impl.getDesc());
        Type site = Type.getMethodType(indy.desc);
        Type[] captured = site.getArgumentTypes();
        String iface = site.getReturnType().getInternalName();
        String name = owner.name + "$$Lambda$" + index;

        ClassNode c = new ClassNode();
        c.version = Opcodes.V1_8;
        c.access = Opcodes.ACC_FINAL | Opcodes.ACC_SYNTHETIC | Opcodes.ACC_SUPER;
        c.name = name;
        c.superName = "java/lang/Object";
        c.interfaces.add(iface);
        for (int i = 0; i < captured.length; i++) {
            c.fields.add(new FieldNode(Opcodes.ACC_PRIVATE | Opcodes.ACC_FINAL, "arg" + i, captured[i].getDescriptor(), null, null));
        }
        String ctorDesc = Type.getMethodDescriptor(Type.VOID_TYPE, captured);
        MethodNode ctor = new MethodNode(Opcodes.ACC_PRIVATE, "<init>", ctorDesc, null, null);
        ctor.instructions.add(new VarInsnNode(Opcodes.ALOAD, 0));
        ctor.instructions.add(new MethodInsnNode(Opcodes.INVOKESPECIAL, "java/lang/Object", "<init>", "()V", false));
        int slot = 1;
        for (int i = 0; i < captured.length; i++) {
            ctor.instructions.add(new VarInsnNode(Opcodes.ALOAD, 0));
            ctor.instructions.add(new VarInsnNode(captured[i].getOpcode(Opcodes.ILOAD), slot));
            ctor.instructions.add(new FieldInsnNode(Opcodes.PUTFIELD, name, "arg" + i, captured[i].getDescriptor()));
            slot += captured[i].getSize();
        }
        ctor.instructions.add(new InsnNode(Opcodes.RETURN));
        c.methods.add(ctor);

        MethodNode create = new MethodNode(Opcodes.ACC_STATIC, "create", indy.desc, null, null);
        create.instructions.add(new TypeInsnNode(Opcodes.NEW, name));
        create.instructions.add(new InsnNode(Opcodes.DUP));
        slot = 0;
        for (Type t : captured) { create.instructions.add(new VarInsnNode(t.getOpcode(Opcodes.ILOAD), slot)); slot += t.getSize(); }
        create.instructions.add(new MethodInsnNode(Opcodes.INVOKESPECIAL, name, "<init>", ctorDesc, false));
        create.instructions.add(new InsnNode(Opcodes.ARETURN));
        c.methods.add(create);

        Type implType = Type.getMethodType(impl.getDesc());
        Type[] implArgs = implType.getArgumentTypes();
        Type[] samArgs = sam.getArgumentTypes();
        Type[] instArgs = instantiated.getArgumentTypes();
        if (implArgs.length != captured.length + samArgs.length) throw unsupported(owner, "a lambda with adapted arity in " + where.name);
        MethodNode body = new MethodNode(Opcodes.ACC_PUBLIC, indy.name, sam.getDescriptor(), null, null);
        for (int i = 0; i < captured.length; i++) {
            body.instructions.add(new VarInsnNode(Opcodes.ALOAD, 0));
            body.instructions.add(new FieldInsnNode(Opcodes.GETFIELD, name, "arg" + i, captured[i].getDescriptor()));
        }
        slot = 1;
        for (int i = 0; i < samArgs.length; i++) {
            body.instructions.add(new VarInsnNode(samArgs[i].getOpcode(Opcodes.ILOAD), slot));
            slot += samArgs[i].getSize();
            Type want = implArgs[captured.length + i];
            if (samArgs[i].equals(want)) continue;
            if (samArgs[i].getSort() == Type.OBJECT && (want.getSort() == Type.OBJECT || want.getSort() == Type.ARRAY)
                    && instArgs[i].equals(want)) {
                body.instructions.add(new TypeInsnNode(Opcodes.CHECKCAST, want.getInternalName()));
            } else {
                throw unsupported(owner, "a lambda argument adapted from " + samArgs[i] + " to " + want + " in " + where.name);
            }
        }
        body.instructions.add(new MethodInsnNode(Opcodes.INVOKESTATIC, impl.getOwner(), impl.getName(), impl.getDesc(), impl.isInterface()));
        Type ret = sam.getReturnType();
        Type got = implType.getReturnType();
        if (ret.getSort() == Type.VOID && got.getSort() != Type.VOID) {
            body.instructions.add(new InsnNode(got.getSize() == 2 ? Opcodes.POP2 : Opcodes.POP));
        } else if (!ret.equals(got) && !(ret.getSort() == Type.OBJECT && (got.getSort() == Type.OBJECT || got.getSort() == Type.ARRAY))) {
            throw unsupported(owner, "a lambda result adapted from " + got + " to " + ret + " in " + where.name);
        }
        body.instructions.add(new InsnNode(ret.getOpcode(Opcodes.IRETURN)));
        c.methods.add(body);
        generated.add(c);
        return new MethodInsnNode(Opcodes.INVOKESTATIC, name, "create", indy.desc, false);
    }

    private void write(Path out) throws IOException {
        List<ClassNode> all = new ArrayList<>(classes.values());
        all.addAll(generated);
        for (ClassNode c : all) {
            boolean fresh = generated.contains(c);
            ClassWriter w = new ClassWriter(fresh ? ClassWriter.COMPUTE_MAXS : 0);
            c.accept(w);
            Path file = out.resolve(c.name + ".class");
            Files.createDirectories(file.getParent());
            Files.write(file, w.toByteArray());
        }
    }
}
