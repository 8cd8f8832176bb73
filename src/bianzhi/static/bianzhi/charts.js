// Charts of the statistics pages (ECharts, served by the app itself; no inline scripts).
// Each <div data-chart="name"> is drawn from the JSON block #chart-data (json_script):
//   {name: {kind: "line" | "bar" | "hbar" | "pie", unit, categories, total, share,
//           series: [{name, data | value, type, dashed, percent}]}}
// A button [data-chart-toggle="name"] switches between the chart and its table
// [data-chart-table="name"]; the toolbox saves the chart as a PNG.
(function () {
  "use strict";
  if (typeof window.echarts === "undefined") {
    return;
  }
  var source = document.getElementById("chart-data");
  var root = document.getElementById("bz-dashboard");
  if (!source || !root) {
    return;
  }
  var specs = JSON.parse(source.textContent);
  // Tooltips are drawn into the canvas: ECharts' HTML tooltips carry style attributes, which the
  // Content-Security-Policy (style-src 'self') refuses.
  var TOOLTIP_MODE = "richText";
  var PALETTE = ["#3e6b99", "#d08c43", "#6b9f71", "#a05d56", "#7f7f9f", "#b5a36a", "#5b9aa9", "#999999"];
  var saveLabel = root.dataset.saveLabel || "PNG";
  var charts = {};

  function number(value) {
    if (value === null || value === undefined) {
      return "—";
    }
    return Number(value).toLocaleString("zh-CN", {maximumFractionDigits: 2});
  }

  function toolbox(title) {
    return {
      right: 0, top: 0, itemSize: 14,
      feature: {saveAsImage: {title: saveLabel, name: title, pixelRatio: 2, backgroundColor: "#ffffff"}}
    };
  }

  function axisOption(spec, title) {
    var horizontal = spec.kind === "hbar";
    var hasPercent = spec.series.some(function (s) { return s.percent; });
    var category = {type: "category", data: spec.categories, axisTick: {alignWithLabel: true},
                    axisLabel: {hideOverlap: true}};
    var values = [{type: "value", name: spec.unit, minInterval: 1, splitNumber: horizontal ? 3 : 5,
                   axisLabel: {hideOverlap: true, formatter: number},
                   nameTextStyle: {align: horizontal ? "right" : "left", fontSize: 11}}];
    if (hasPercent) {
      values.push({type: "value", name: "%", splitLine: {show: false}, nameTextStyle: {fontSize: 11}});
    }
    if (horizontal) {
      category.inverse = true;
      category.axisLabel = {width: 150, overflow: "truncate"};
    }
    var bars = spec.series.filter(function (s) { return (s.type || "bar") === "bar"; }).length;
    var dense = !horizontal && spec.kind === "bar" && bars * spec.categories.length > 12;
    var series = spec.series.map(function (s) {
      var type = s.type || (spec.kind === "line" ? "line" : "bar");
      var item = {
        name: s.name, type: type, data: s.data, connectNulls: false,
        label: {show: true, position: horizontal ? "right" : "top", fontSize: 10,
                formatter: function (p) {
                  if (p.value === null || p.value === undefined) {
                    return "";
                  }
                  var text = number(p.value) + (s.percent ? "%" : "");
                  if (spec.share && spec.total) {
                    text += "（" + (100 * p.value / spec.total).toFixed(2) + "%）";
                  }
                  return text;
                }},
        emphasis: {focus: "series"}
      };
      if (dense && type === "bar") {  // many bars: the labels stand inside them, upright
        item.label.rotate = 90;
        item.label.position = "insideBottom";
        item.label.align = "left";
        item.label.verticalAlign = "middle";
        item.label.color = "#ffffff";
      }
      if (type === "line") {
        item.symbolSize = 5;
        if (s.dashed) {
          item.lineStyle = {type: "dashed", width: 1.5};
          item.symbol = "none";
          item.label.show = false;
          item.endLabel = {show: true, fontSize: 10, formatter: function (p) { return number(p.value); }};
        }
      } else {
        item.barMaxWidth = 28;
      }
      if (s.percent) {
        item.yAxisIndex = 1;
        item.z = 3;
        item.label.backgroundColor = "rgba(255, 255, 255, 0.85)";
        item.label.padding = [1, 2];
      }
      return item;
    });
    return {
      color: PALETTE,
      textStyle: {fontFamily: "Noto Sans CJK SC, Microsoft YaHei, PingFang SC, sans-serif"},
      toolbox: toolbox(title),
      tooltip: {trigger: "axis", valueFormatter: number, renderMode: TOOLTIP_MODE},
      legend: {show: spec.series.length > 1, top: 0, left: 0, itemHeight: 10, textStyle: {fontSize: 11}},
      grid: {left: 8, right: spec.share ? 96 : (hasPercent ? 24 : 48), top: spec.series.length > 1 ? 52 : 28,
             bottom: 8, containLabel: true},
      xAxis: horizontal ? values[0] : category,
      yAxis: horizontal ? category : values,
      series: series
    };
  }

  function pieOption(spec, title) {
    return {
      color: PALETTE,
      textStyle: {fontFamily: "Noto Sans CJK SC, Microsoft YaHei, PingFang SC, sans-serif"},
      toolbox: toolbox(title),
      tooltip: {trigger: "item", renderMode: TOOLTIP_MODE, formatter: function (p) { return p.name + "：" + number(p.value) + " (" + p.percent + "%)"; }},
      series: [{
        type: "pie", radius: ["38%", "62%"], center: ["50%", "55%"], avoidLabelOverlap: true,
        data: spec.series.filter(function (s) { return s.value > 0; }),
        label: {fontSize: 11, formatter: function (p) { return p.name + "\n" + number(p.value) + "（" + p.percent + "%）"; }},
        labelLine: {length: 8, length2: 6}
      }]
    };
  }

  function draw(element) {
    var name = element.dataset.chart;
    var spec = specs[name];
    if (!spec) {
      return;
    }
    var empty = spec.kind === "pie" ? !spec.series.some(function (s) { return s.value > 0; })
                                    : !(spec.categories && spec.categories.length);
    if (empty) {  // nothing to draw: show the table instead
      toggle(name, true);
      var button = document.querySelector('[data-chart-toggle="' + name + '"]');
      if (button) {
        button.classList.add("d-none");
      }
      return;
    }
    var chart = window.echarts.init(element, null, {renderer: "canvas"});
    var title = element.dataset.title || name;
    chart.setOption(spec.kind === "pie" ? pieOption(spec, title) : axisOption(spec, title));
    charts[name] = chart;
  }

  function toggle(name, showTable) {
    var chart = document.querySelector('[data-chart="' + name + '"]');
    var table = document.querySelector('[data-chart-table="' + name + '"]');
    var button = document.querySelector('[data-chart-toggle="' + name + '"]');
    if (!chart || !table) {
      return;
    }
    chart.classList.toggle("d-none", showTable);
    table.classList.toggle("d-none", !showTable);
    if (button) {
      button.setAttribute("aria-pressed", showTable ? "true" : "false");
      button.textContent = showTable ? root.dataset.labelChart : root.dataset.labelTable;
    }
    if (!showTable && charts[name]) {
      charts[name].resize();
    }
  }

  document.querySelectorAll("[data-chart]").forEach(draw);
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-chart-toggle]");
    if (button) {
      toggle(button.dataset.chartToggle, button.getAttribute("aria-pressed") !== "true");
    }
  });
  var pending = null;
  window.addEventListener("resize", function () {
    window.clearTimeout(pending);
    pending = window.setTimeout(function () {
      Object.keys(charts).forEach(function (name) { charts[name].resize(); });
    }, 150);
  });
}());
