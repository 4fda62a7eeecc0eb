"""The machine line written beside benchmark figures."""

from importlib import metadata

from model.machine import describe, library_versions

CPUINFO = """processor\t: 0
vendor_id\t: AuthenticAMD
cpu family\t: 25
model\t\t: 17
model name\t: AMD EPYC 9R14
flags\t\t: fpu sse2 avx avx2 fma avx512f avx512bw avx512_vnni

processor\t: 1
cpu family\t: 25
model\t\t: 17
model name\t: AMD EPYC 9R14
flags\t\t: fpu sse2 avx avx2 fma avx512f avx512bw avx512_vnni
"""


def test_the_cpu_is_named_with_its_family_model_and_widest_vector_instructions():
    # GIVEN the /proc/cpuinfo of a two-core AVX-512 host
    # WHEN the machine is described
    line = describe(CPUINFO)
    # THEN the CPU reads with its family, model and the widest vector set it has
    assert "AMD EPYC 9R14 (family 25 model 17, AVX-512 VNNI)" in line
    assert "GiB, Python 3." in line


def test_an_avx2_only_cpu_says_so():
    # GIVEN a host whose widest vector instructions are AVX2
    cpuinfo = CPUINFO.replace(" avx512f avx512bw avx512_vnni", "")
    # WHEN described THEN AVX2 is named, not AVX-512
    assert "(family 25 model 17, AVX2)" in describe(cpuinfo)


def test_library_versions_are_the_installed_ones():
    # GIVEN the project's environment WHEN the versions are read
    versions = library_versions()
    # THEN each is what the package metadata says
    assert versions["numpy"] == metadata.version("numpy")
    assert versions["pillow"] == metadata.version("pillow")
    assert set(versions) >= {"opencv-python-headless", "ai-edge-litert"}
