// fill: y[i] = start + f32(i) * step, for i < n (zeros, ones, full, arange).
// poison: words[i] = 0x7fc0dead (a quiet NaN as f32, a huge integer as i32) for i < n; the engine's
// debug mode writes it into every buffer it hands out, so a kernel that misses an output shows.
// Layout: y (or words) is a contiguous array of n 32-bit elements. One invocation per element, WG per workgroup;
// the workgroup grid may be folded into 2-D (x up to maxComputeWorkgroupsPerDimension).

override WG: u32 = 256;

struct Params { n: u32, start: f32, step: f32, _pad: u32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(1) var<storage, read_write> words: array<u32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * WG + lid;
  if (i >= P.n) { return; }
  y[i] = P.start + f32(i) * P.step;
}

@compute @workgroup_size(WG)
fn poison(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
          @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * WG + lid;
  if (i >= P.n) { return; }
  words[i] = 0x7fc0deadu;
}
