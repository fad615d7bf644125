//! The adapters wgpu can see, and what each allows.

use crate::backend::decide::{AdapterKind, AdapterSeen};

/// Lists the adapters wgpu can see, without opening any.
pub fn enumerate_adapters() -> Vec<AdapterSeen> {
    use burn::tensor::wgpu::wgpu;
    let instance =
        wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
    let adapters = block_on(instance.enumerate_adapters(wgpu::Backends::all()));
    adapters
        .iter()
        .map(|a| {
            let info = a.get_info();
            let kind = match info.device_type {
                wgpu::DeviceType::DiscreteGpu => AdapterKind::DiscreteGpu,
                wgpu::DeviceType::IntegratedGpu => AdapterKind::IntegratedGpu,
                wgpu::DeviceType::VirtualGpu => AdapterKind::VirtualGpu,
                wgpu::DeviceType::Cpu => AdapterKind::Software,
                wgpu::DeviceType::Other => AdapterKind::Other,
            };
            let limits = a.limits();
            AdapterSeen {
                name: info.name,
                kind,
                api: format!("{:?}", info.backend),
                max_buffer: limits
                    .max_buffer_size
                    .min(limits.max_storage_buffer_binding_size),
            }
        })
        .collect()
}

/// Polls a future that native wgpu resolves without waiting.
fn block_on<F: std::future::Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    loop {
        if let std::task::Poll::Ready(v) = future.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::yield_now();
    }
}
