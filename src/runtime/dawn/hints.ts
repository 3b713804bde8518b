// What to install when Dawn finds no adapter: said by the Dawn host and by openNodeDevice.
export const NO_ADAPTER_HINT =
  'no WebGPU adapter: Dawn found no usable Vulkan driver. Install one of: ' +
  'a software Vulkan driver, Mesa lavapipe >= 23 (Debian/Ubuntu package `mesa-vulkan-drivers`; on Debian 12 it comes from ' +
  'bookworm-backports, which `bash scripts/setup-vulkan.sh` adds and installs); or SwiftShader, by pointing VK_ICD_FILENAMES at its ICD ' +
  "(Debian's chromium ships /usr/lib/chromium/vk_swiftshader_icd.json); or your GPU's Vulkan driver.";
