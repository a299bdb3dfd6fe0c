// The pybind11 module cnnrt._cnnrt. It calls only the public C API
// (cnnrt/cnnrt.h), so that Python can do nothing an embedding app cannot.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "cnnrt/cnnrt.h"

namespace py = pybind11;

namespace {

// Raises the Python exception class that matches a status (defined in
// cnnrt/_errors.py so that Python code can catch them by name).
[[noreturn]] void raise_status(cnnrt_status status, const char* message) {
  const char* name = "Error";
  switch (status) {
    case CNNRT_ERROR_INVALID_ARGUMENT: name = "InvalidArgumentError"; break;
    case CNNRT_ERROR_INVALID_MODEL: name = "InvalidModelError"; break;
    case CNNRT_ERROR_UNSUPPORTED: name = "UnsupportedError"; break;
    case CNNRT_ERROR_OUT_OF_MEMORY: name = "OutOfMemoryError"; break;
    case CNNRT_ERROR_IO: name = "ModelFileError"; break;
    default: break;
  }
  py::object errors = py::module_::import("cnnrt._errors");
  py::object type = errors.attr(name);
  PyErr_SetObject(type.ptr(), py::str(message).ptr());
  throw py::error_already_set();
}

void check(cnnrt_status status) {
  if (status != CNNRT_OK) raise_status(status, cnnrt_last_error());
}

py::dict tensor_info_dict(const cnnrt_tensor_info& info) {
  py::list shape;
  for (int d = 0; d < info.rank; d++) {
    if (info.dims[d] >= 0) shape.append(info.dims[d]);
    else if (info.dim_names[d] && info.dim_names[d][0]) shape.append(py::str(info.dim_names[d]));
    else shape.append(py::none());
  }
  py::dict out;
  out["name"] = info.name;
  out["shape"] = py::tuple(shape);
  out["dtype"] = cnnrt_dtype_name(info.dtype);
  return out;
}

class Model {
 public:
  explicit Model(cnnrt_model* model) : model_(model, cnnrt_model_release) {}

  static std::shared_ptr<Model> load_file(const std::string& path, bool verify_weights, bool no_mmap) {
    cnnrt_model_options options{sizeof(cnnrt_model_options), 0};
    if (verify_weights) options.flags |= CNNRT_MODEL_VERIFY_WEIGHTS;
    if (no_mmap) options.flags |= CNNRT_MODEL_NO_MMAP;
    cnnrt_model* model = nullptr;
    cnnrt_status status;
    {
      py::gil_scoped_release release;
      status = cnnrt_model_load_file(path.c_str(), &options, &model);
    }
    check(status);
    return std::make_shared<Model>(model);
  }

  static std::shared_ptr<Model> load_bytes(py::buffer data, bool verify_weights) {
    py::buffer_info info = data.request();
    cnnrt_model_options options{sizeof(cnnrt_model_options), verify_weights ? CNNRT_MODEL_VERIFY_WEIGHTS : 0u};
    cnnrt_model* model = nullptr;
    cnnrt_status status;
    {
      py::gil_scoped_release release;
      status = cnnrt_model_load_memory(info.ptr, static_cast<size_t>(info.size * info.itemsize), &options, &model);
    }
    check(status);
    return std::make_shared<Model>(model);
  }

  py::list inputs() const { return io(false); }
  py::list outputs() const { return io(true); }

  py::dict metadata() const {
    py::dict out;
    size_t count = cnnrt_model_metadata_count(get());
    for (size_t i = 0; i < count; i++) {
      const char *key, *value;
      check(cnnrt_model_metadata_entry(get(), i, &key, &value));
      out[py::str(key)] = py::str(value);
    }
    return out;
  }

  py::dict stats() const {
    cnnrt_model_stats stats{};
    stats.struct_size = sizeof stats;
    check(cnnrt_model_get_stats(get(), &stats));
    py::dict out;
    out["nodes"] = stats.node_count;
    out["tensors"] = stats.tensor_count;
    out["weights_bytes"] = stats.weights_bytes;
    out["packed_bytes"] = stats.packed_bytes;
    out["constant_elements"] = stats.param_count;
    return out;
  }

  py::list nodes() const {
    py::list out;
    size_t count = cnnrt_model_node_count(get());
    for (size_t i = 0; i < count; i++) {
      cnnrt_node_info info{};
      info.struct_size = sizeof info;
      check(cnnrt_model_node_info(get(), i, &info));
      py::dict node;
      node["name"] = info.name;
      node["op"] = info.op;
      node["op_version"] = info.op_version;
      node["activation"] = info.activation;
      node["residual"] = bool(info.has_residual);
      node["params"] = info.param_count;
      py::list ins, outs;
      for (uint32_t k = 0; k < info.input_count; k++) {
        const char* name = cnnrt_model_node_input_name(get(), i, k);
        ins.append(name ? py::object(py::str(name)) : py::object(py::none()));
      }
      for (uint32_t k = 0; k < info.output_count; k++) outs.append(py::str(cnnrt_model_node_output_name(get(), i, k)));
      node["inputs"] = ins;
      node["outputs"] = outs;
      py::dict attributes;
      size_t attribute_count = cnnrt_model_node_attribute_count(get(), i);
      for (size_t a = 0; a < attribute_count; a++) {
        cnnrt_attribute attribute{};
        check(cnnrt_model_node_attribute(get(), i, a, &attribute));
        py::object value;
        switch (attribute.type) {
          case CNNRT_ATTRIBUTE_INT: value = py::int_(attribute.ints[0]); break;
          case CNNRT_ATTRIBUTE_FLOAT: value = py::float_(attribute.floats[0]); break;
          case CNNRT_ATTRIBUTE_INTS: value = py::cast(std::vector<int64_t>(attribute.ints, attribute.ints + attribute.count)); break;
          case CNNRT_ATTRIBUTE_FLOATS: value = py::cast(std::vector<double>(attribute.floats, attribute.floats + attribute.count)); break;
          default: value = py::str(attribute.string); break;
        }
        attributes[py::str(attribute.name)] = value;
      }
      node["attributes"] = attributes;
      out.append(node);
    }
    return out;
  }

  // Declared shape and dtype of any tensor by name (constants: exact).
  py::dict tensor(const std::string& name) const {
    cnnrt_tensor_info info{};
    check(cnnrt_model_tensor_info(get(), name.c_str(), &info));
    return tensor_info_dict(info);
  }

  cnnrt_model* get() const { return model_.get(); }

 private:
  py::list io(bool output) const {
    py::list out;
    size_t count = output ? cnnrt_model_output_count(get()) : cnnrt_model_input_count(get());
    for (size_t i = 0; i < count; i++) {
      cnnrt_tensor_info info{};
      check(output ? cnnrt_model_output_info(get(), i, &info) : cnnrt_model_input_info(get(), i, &info));
      out.append(tensor_info_dict(info));
    }
    return out;
  }

  std::shared_ptr<cnnrt_model> model_;
};

class Session {
 public:
  Session(std::shared_ptr<Model> model, int threads, bool profile) : model_(std::move(model)) {
    cnnrt_session_options options{sizeof(cnnrt_session_options), threads, profile ? CNNRT_SESSION_PROFILE : 0u};
    cnnrt_session* session = nullptr;
    check(cnnrt_session_create(model_->get(), &options, &session));
    session_.reset(session);
    size_t count = cnnrt_model_input_count(model_->get());
    for (size_t i = 0; i < count; i++) {
      cnnrt_tensor_info info{};
      check(cnnrt_model_input_info(model_->get(), i, &info));
      input_names_.emplace_back(info.name);
    }
    count = cnnrt_model_output_count(model_->get());
    for (size_t i = 0; i < count; i++) {
      cnnrt_tensor_info info{};
      check(cnnrt_model_output_info(model_->get(), i, &info));
      output_names_.emplace_back(info.name);
    }
  }

  // Sets input shapes ({name: shape}); returns the output shapes.
  py::dict reshape(const py::dict& shapes) {
    std::vector<cnnrt_tensor> tensors;
    std::vector<std::string> names;
    names.reserve(shapes.size());
    for (auto item : shapes) {
      names.push_back(py::cast<std::string>(item.first));
      auto dims = py::cast<std::vector<int64_t>>(item.second);
      if (dims.size() > CNNRT_MAX_RANK)
        raise_status(CNNRT_ERROR_INVALID_ARGUMENT, ("input '" + names.back() + "': rank " + std::to_string(dims.size()) +
                                                    " exceeds the maximum of 8").c_str());
      cnnrt_tensor t{};
      t.dtype = CNNRT_DTYPE_FLOAT32;
      t.rank = static_cast<int32_t>(dims.size());
      for (size_t d = 0; d < dims.size(); d++) t.dims[d] = dims[d];
      tensors.push_back(t);
    }
    for (size_t i = 0; i < tensors.size(); i++) tensors[i].name = names[i].c_str();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      check(cnnrt_session_reshape(session_.get(), tensors.size(), tensors.data()));
    }
    return output_shapes();
  }

  py::dict output_shapes() const {
    py::dict out;
    for (size_t i = 0; i < output_names_.size(); i++) {
      cnnrt_tensor_info info{};
      check(cnnrt_session_output_info(session_.get(), i, &info));
      out[py::str(output_names_[i])] = py::tuple(py::cast(std::vector<int64_t>(info.dims, info.dims + info.rank)));
    }
    return out;
  }

  // Runs on {name: float32 array}; returns {name: array} for every output.
  py::dict run(const py::dict& feeds) {
    std::vector<py::array> keep;  // contiguous views or copies, alive during the run
    std::vector<std::string> names;
    std::vector<cnnrt_tensor> inputs;
    keep.reserve(feeds.size());
    names.reserve(feeds.size());
    for (auto item : feeds) {
      std::string name = py::cast<std::string>(item.first);
      py::array array = py::array::ensure(item.second);
      if (!array) raise_status(CNNRT_ERROR_INVALID_ARGUMENT, ("input '" + name + "': expected a numpy array").c_str());
      if (!array.dtype().is(py::dtype::of<float>())) {
        std::string found = py::cast<std::string>(py::str(array.dtype()));
        raise_status(CNNRT_ERROR_INVALID_ARGUMENT,
                     ("input '" + name + "': expected dtype float32, found " + found).c_str());
      }
      if (array.ndim() > CNNRT_MAX_RANK)
        raise_status(CNNRT_ERROR_INVALID_ARGUMENT, ("input '" + name + "': rank " + std::to_string(array.ndim()) +
                                                    " exceeds the maximum of 8").c_str());
      array = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(array);
      cnnrt_tensor t{};
      t.dtype = CNNRT_DTYPE_FLOAT32;
      t.rank = static_cast<int32_t>(array.ndim());
      for (int d = 0; d < t.rank; d++) t.dims[d] = array.shape(d);
      t.data = const_cast<void*>(array.data());
      t.size_bytes = static_cast<size_t>(array.nbytes());
      keep.push_back(array);
      names.push_back(name);
      inputs.push_back(t);
    }
    for (size_t i = 0; i < inputs.size(); i++) inputs[i].name = names[i].c_str();

    std::unique_lock<std::mutex> lock(mutex_, std::defer_lock);
    {
      py::gil_scoped_release release;
      lock.lock();
    }
    check(cnnrt_session_reshape(session_.get(), inputs.size(), inputs.data()));
    std::vector<py::array> results;
    std::vector<cnnrt_tensor> outputs(output_names_.size());
    for (size_t i = 0; i < output_names_.size(); i++) {
      cnnrt_tensor_info info{};
      check(cnnrt_session_output_info(session_.get(), i, &info));
      std::vector<py::ssize_t> shape(info.dims, info.dims + info.rank);
      if (info.dtype == CNNRT_DTYPE_INT64) results.emplace_back(py::array_t<int64_t>(shape));
      else results.emplace_back(py::array_t<float>(shape));
      outputs[i].name = output_names_[i].c_str();
      outputs[i].dtype = info.dtype;
      outputs[i].data = results.back().mutable_data();
      outputs[i].size_bytes = static_cast<size_t>(results.back().nbytes());
    }
    cnnrt_status status;
    std::string message;
    {
      py::gil_scoped_release release;
      status = cnnrt_session_run(session_.get(), inputs.size(), inputs.data(), outputs.size(), outputs.data());
      if (status != CNNRT_OK) message = cnnrt_last_error();
    }
    lock.unlock();
    if (status != CNNRT_OK) raise_status(status, message.c_str());
    py::dict out;
    for (size_t i = 0; i < output_names_.size(); i++) out[py::str(output_names_[i])] = results[i];
    return out;
  }

  py::dict memory() const {
    uint64_t arena = 0, unplanned = 0;
    check(cnnrt_session_memory(session_.get(), &arena, &unplanned));
    py::dict out;
    out["arena_bytes"] = arena;
    out["unplanned_bytes"] = unplanned;
    return out;
  }

  py::list node_stats() const {
    py::list out;
    size_t count = cnnrt_model_node_count(model_->get());
    for (size_t i = 0; i < count; i++) {
      cnnrt_node_stats stats{};
      stats.struct_size = sizeof stats;
      check(cnnrt_session_node_stats(session_.get(), i, &stats));
      py::dict node;
      node["kernel"] = stats.kernel;
      node["output_shape"] = py::tuple(py::cast(std::vector<int64_t>(stats.output_dims, stats.output_dims + stats.output_rank)));
      node["macs"] = stats.macs;
      node["output_bytes"] = stats.output_bytes;
      node["workspace_bytes"] = stats.workspace_bytes;
      node["time_ns"] = stats.time_ns;
      out.append(node);
    }
    return out;
  }

  const std::vector<std::string>& input_names() const { return input_names_; }
  const std::vector<std::string>& output_names() const { return output_names_; }

 private:
  struct SessionRelease {
    void operator()(cnnrt_session* s) const { cnnrt_session_release(s); }
  };
  std::shared_ptr<Model> model_;
  std::unique_ptr<cnnrt_session, SessionRelease> session_;
  std::vector<std::string> input_names_, output_names_;
  mutable std::mutex mutex_;  // a C session serves one caller at a time
};

}  // namespace

PYBIND11_MODULE(_cnnrt, m) {
  m.doc() = "cnnrt native module: a thin binding of the public C API";
  m.def("version", []() { return std::string(cnnrt_version_string()); });
  m.def("cpu_description", []() { return std::string(cnnrt_cpu_description()); });
  m.def("cpu_fma_peak_gflops", [](double seconds) {
    py::gil_scoped_release release;
    return cnnrt_cpu_fma_peak_gflops(seconds);
  }, py::arg("seconds") = 0.2);

  py::class_<Model, std::shared_ptr<Model>>(m, "Model")
      .def_static("load_file", &Model::load_file, py::arg("path"), py::arg("verify_weights") = false,
                  py::arg("no_mmap") = false)
      .def_static("load_bytes", &Model::load_bytes, py::arg("data"), py::arg("verify_weights") = false)
      .def_property_readonly("inputs", &Model::inputs)
      .def_property_readonly("outputs", &Model::outputs)
      .def_property_readonly("metadata", &Model::metadata)
      .def_property_readonly("stats", &Model::stats)
      .def_property_readonly("nodes", &Model::nodes)
      .def("tensor", &Model::tensor, py::arg("name"));

  py::class_<Session>(m, "Session")
      .def(py::init<std::shared_ptr<Model>, int, bool>(), py::arg("model"), py::arg("threads") = 1,
           py::arg("profile") = false)
      .def("reshape", &Session::reshape, py::arg("shapes"))
      .def("run", &Session::run, py::arg("feeds"))
      .def("output_shapes", &Session::output_shapes)
      .def("memory", &Session::memory)
      .def("node_stats", &Session::node_stats)
      .def_property_readonly("input_names", &Session::input_names)
      .def_property_readonly("output_names", &Session::output_names);
}
